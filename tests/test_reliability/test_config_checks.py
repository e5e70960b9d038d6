"""Bad configuration and bad data fail before training starts, with the config key in the
message (asl_det.config.checks, run by runtime.build_runner and so by tools/train.py)."""
import copy
import json
import os
import os.path as osp
import runpy
import shutil
import sys

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from reliability_helpers import TRAIN, Training, hooks_env, write_config
from tiny_detection import write_coco_dataset

from asl_det.config import asl_swap
from asl_det.config import checks as config_checks
from asl_det.config.checks import check_coco_annotations, check_config
from asl_det.config.classifier_prior import init_cfg_with_prior
from asl_det.launch.runtime import load_config

ASL = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0, clip=0.05)
REPO_CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('checks')
    data = write_coco_dataset(str(root / 'data'))
    config = write_config(root / 'asl.py', data, 2)
    return root, config


@pytest.fixture
def cfg(tiny):
    return load_config(tiny[1])


def test_a_good_config_passes(cfg):
    check_config(cfg, 'train')
    check_config(cfg, 'test')
    with pytest.raises(ValueError, match='phase'):
        check_config(cfg, 'val')


# ------------------------------------------------------------------------------ model

@pytest.mark.parametrize('change,match', [
    (dict(gamma_neg=-1.0), r'^model\.bbox_head\.loss_cls: gamma_neg must be in \[0'),
    (dict(clip=1.5), r'^model\.bbox_head\.loss_cls: clip must be'),
    (dict(gama_neg=3.0), r"^model\.bbox_head\.loss_cls: .*'gama_neg'"),
    (dict(reduction='avg'), r'^model\.bbox_head\.loss_cls: reduction must be'),
])
def test_wrong_asl_parameters(cfg, change, match):
    cfg.model.bbox_head.loss_cls.update(change)
    with pytest.raises(ValueError, match=match):
        check_config(cfg)


@pytest.mark.parametrize('use_sigmoid', ['missing', False, None])
def test_asl_without_use_sigmoid(cfg, use_sigmoid):
    loss_cls = dict(ASL)
    if use_sigmoid == 'missing':
        del loss_cls['use_sigmoid']
    else:
        loss_cls['use_sigmoid'] = use_sigmoid
    cfg.model.bbox_head.loss_cls = loss_cls
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.loss_cls\.use_sigmoid: must be set '
                                         'to True'):
        check_config(cfg)


def test_why_use_sigmoid_matters_the_head_grows_a_background_channel(cfg):
    head = copy.deepcopy(cfg.model.bbox_head)
    head.train_cfg, head.test_cfg = cfg.model.train_cfg, cfg.model.test_cfg
    del head.loss_cls['use_sigmoid']
    built = MODELS.build(head)  # AsymmetricLoss itself defaults to use_sigmoid=True ...
    assert built.loss_cls.use_sigmoid is True
    assert built.use_sigmoid_cls is False  # ... but the head read the dict: softmax scoring


def test_a_head_asl_cannot_serve_is_refused_before_training():
    cfg = load_config('mmdet::vfnet/vfnet_r50_fpn_1x_coco.py')
    cfg.model.bbox_head.loss_cls = dict(ASL)
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.loss_cls: AsymmetricLoss cannot be '
                                         'the classifier loss here: VFNetHead: '):
        check_config(cfg)  # the model is checked first: COCO being absent does not matter
    assert 'VFNetHead' in asl_swap.REFUSALS


@pytest.mark.parametrize('config', ['gfl/gfl_r50_fpn_1x_coco.py', 'tood/tood_r50_fpn_1x_coco.py',
                                    'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'])
def test_quality_target_heads_pass_the_model_check(config):
    cfg = load_config(f'mmdet::{config}')
    cfg.model.bbox_head.loss_cls = dict(ASL, activated=cfg.model.bbox_head.loss_cls.get(
        'activated', False))
    config_checks.check_model(cfg)


@pytest.mark.parametrize('key, value', [('max_iters', 0), ('max_epochs', -1),
                                        ('max_iters', 0.5), ('max_iters', 'x')])
def test_a_schedule_that_trains_nothing_is_refused(cfg, key, value):
    cfg.train_cfg[key] = value
    with pytest.raises(ValueError, match=rf'^train_cfg\.{key} must be '):
        check_config(cfg, 'train')
    check_config(cfg, 'test')  # testing runs no schedule
    cfg.train_cfg[key] = 1e4  # mmengine's loops take int() of it
    check_config(cfg, 'train')


def test_num_classes_must_match_the_training_classes(cfg):
    cfg.model.bbox_head.num_classes = 80
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.num_classes: 80, but '
                                         r'train_dataloader\.dataset has 2 classes'):
        check_config(cfg)


def test_a_test_run_checks_num_classes_against_the_test_set(cfg):
    """A config for testing only: its test set and head have 3 classes, the training set it
    inherits 2."""
    cfg.model.bbox_head.num_classes = 3
    cfg.test_dataloader.dataset.metainfo = dict(classes=('a', 'b', 'c'))
    cfg.test_evaluator = None  # not what this test is about
    config_checks.check_model(cfg, 'test')
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.num_classes: 3, but '
                                         r'train_dataloader\.dataset has 2 classes'):
        config_checks.check_model(cfg, 'train')
    cfg.model.bbox_head.num_classes = 2
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.num_classes: 2, but '
                                         r'test_dataloader\.dataset has 3 classes'):
        config_checks.check_model(cfg, 'test')


# ------------------------------------------------------------------------------- data

@pytest.mark.parametrize('key,value,error,match', [
    ('train_dataloader.dataset.ann_file', 'annotations/missing.json', FileNotFoundError,
     r'^train_dataloader\.dataset\.ann_file: .*missing\.json does not exist \(data_root='),
    ('train_dataloader.dataset.data_prefix.img', 'no_such_dir/', FileNotFoundError,
     r'^train_dataloader\.dataset\.data_prefix\.img: image directory .*no_such_dir'),
    ('train_dataloader.dataset.data_prefix.img', 'val/', FileNotFoundError,  # wrong folder
     r'^train_dataloader\.dataset\.data_prefix\.img: .*val/0001\.png, the first image of'),
    ('train_dataloader.dataset.data_root', '/nowhere', FileNotFoundError,
     r'^train_dataloader\.dataset\.ann_file: /nowhere/annotations'),
    ('val_evaluator.ann_file', '/nowhere/instances_val.json', FileNotFoundError,
     r'^val_evaluator\.ann_file: /nowhere/instances_val\.json does not exist'),
])
def test_missing_training_data(tiny, key, value, error, match):
    root, config = tiny
    cfg = Config.fromfile(config)
    if key == 'val_evaluator.ann_file':  # the config has no validation: give it one
        full = Config.fromfile(str(root / 'asl_base.py'))
        cfg.val_dataloader, cfg.val_cfg = full.val_dataloader, full.val_cfg
        cfg.val_evaluator = full.val_evaluator
    if value == 'val/':  # a folder that exists but lacks the training images
        shutil.rmtree(root / 'shifted', ignore_errors=True)
        shutil.copytree(root / 'data', root / 'shifted')
        os.remove(root / 'shifted' / 'val' / '0001.png')
        cfg.train_dataloader.dataset.data_root = str(root / 'shifted')
    cfg.merge_from_dict({key: value})
    with pytest.raises(error, match=match):
        check_config(cfg)


def test_each_phase_checks_its_own_data(cfg):
    cfg.train_dataloader.dataset.ann_file = 'annotations/missing.json'
    check_config(cfg, 'test')  # testing a checkpoint does not need the training set
    cfg = copy.deepcopy(cfg)
    cfg.train_dataloader.dataset.ann_file = 'annotations/instances_train.json'
    cfg.test_dataloader.dataset.data_prefix.img = 'missing/'
    check_config(cfg, 'train')
    with pytest.raises(FileNotFoundError, match=r'^test_dataloader\.dataset\.data_prefix\.img'):
        check_config(cfg, 'test')


def test_dataset_wrappers_are_looked_through(cfg):
    inner = cfg.train_dataloader.dataset
    inner.ann_file = 'annotations/missing.json'
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=inner)
    with pytest.raises(FileNotFoundError, match=r'^train_dataloader\.dataset\.dataset\.ann_file'):
        check_config(cfg)
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[
        dict(inner, ann_file='annotations/instances_train.json'), inner])
    with pytest.raises(FileNotFoundError,
                       match=r'^train_dataloader\.dataset\.datasets\.1\.ann_file'):
        check_config(cfg)


def test_remote_paths_are_not_checked(cfg):
    cfg.train_dataloader.dataset.ann_file = 's3://bucket/annotations/train.json'
    cfg.train_dataloader.dataset.data_prefix.img = 's3://bucket/train/'
    check_config(cfg)


# ------------------------------------------------------------------------ COCO content

def write_coco(path, images=None, annotations=None, categories=None):
    data = dict(images=images or [dict(id=1, file_name='a.png', width=64, height=48)],
                annotations=annotations if annotations is not None else [
                    dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 64, 48], area=3072,
                         iscrowd=0)],
                categories=categories or [dict(id=1, name='square'), dict(id=2, name='bar')])
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def ann(ann_id=2, image_id=1, category_id=1, bbox=(10, 10, 20, 20)):
    return dict(id=ann_id, image_id=image_id, category_id=category_id, bbox=list(bbox),
                area=400, iscrowd=0)


@pytest.mark.parametrize('annotations,match', [
    ([ann(category_id=7)], r'1 annotations have unknown category ids \(known: \[1, 2\]\): '
                           r'annotation 2 \(image 1\): category_id 7'),
    ([ann(image_id=9)], 'annotations refer to unknown images: annotation 2: image_id 9'),
    ([ann(bbox=(10, 10, -3, 5))], r'not \[x, y, w, h\]'),
    ([ann(bbox=(10, 10, 5))], r'not \[x, y, w, h\]'),
    ([ann(ann_id=i, bbox=(60, 0, -1, 10)) for i in range(2, 7)], r'\.\.\. \(5 in all\)'),
])
def test_coco_annotation_errors(tmp_path, annotations, match):
    path = write_coco(tmp_path / 'bad.json', annotations=[ann(ann_id=1)] + annotations)
    with pytest.raises(ValueError, match=match):
        check_coco_annotations(path)


def test_coco_good_files(tmp_path):
    edge = ann(bbox=(0.0, 0.0, 64.4, 48.3))  # float rounding past the edge is tolerated
    summary = check_coco_annotations(write_coco(tmp_path / 'ok.json', annotations=[edge]))
    assert summary == dict(images=1, annotations=1, category_names=('square', 'bar'),
                           first_file='a.png')
    test_dev = tmp_path / 'test_dev.json'  # image info only, as COCO test-dev
    test_dev.write_text(json.dumps(dict(images=[dict(id=1, file_name='a.png', width=4,
                                                      height=4)], categories=[])))
    assert check_coco_annotations(str(test_dev))['annotations'] == 0
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(ValueError, match='not valid JSON'):
        check_coco_annotations(str(broken))


def test_bad_coco_file_in_config_names_the_key(tiny, cfg, tmp_path):
    root, _ = tiny
    with open(root / 'data' / 'annotations' / 'instances_train.json') as f:
        data = json.load(f)
    data['annotations'][0]['bbox'] = [40, 40, -1, 40]
    bad = tmp_path / 'train_bad.json'
    bad.write_text(json.dumps(data))
    cfg.train_dataloader.dataset.ann_file = str(bad)
    with pytest.raises(ValueError, match=r'^train_dataloader\.dataset\.ann_file: .*boxes are '
                                         r'not \[x, y, w, h\]'):
        check_config(cfg)
    cfg.train_dataloader.dataset.ann_file = 'annotations/instances_train.json'
    cfg.train_dataloader.dataset.metainfo = dict(classes=('square', 'circle'))
    cfg.model.bbox_head.num_classes = 2
    with pytest.raises(ValueError, match=r"^train_dataloader\.dataset\.metainfo\.classes: "
                                         r"\['circle'\] are not category names"):
        check_config(cfg)
    # a file of class names, as mmengine reads a string (not its characters)
    names = tmp_path / 'classes.txt'
    names.write_text('square\ncircle\n')
    cfg.train_dataloader.dataset.metainfo = dict(classes=str(names))
    with pytest.raises(ValueError, match=r"\['circle'\] are not category names"):
        check_config(cfg)


# ---------------------------------------------------------------- through tools/train.py

def run_train_in_process(argv, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [TRAIN] + argv)
    monkeypatch.setenv('LOCAL_RANK', '0')
    runpy.run_path(TRAIN, run_name='__main__')


def test_train_tool_fails_before_training(tiny, tmp_path, monkeypatch):
    root, config = tiny
    no_sigmoid = tmp_path / 'no_sigmoid.py'
    no_sigmoid.write_text(f"_base_ = [{config!r}]\nmodel = dict(bbox_head=dict(loss_cls=dict("
                          "_delete_=True, type='AsymmetricLoss', gamma_neg=4.0)))\n")
    work_dir = str(tmp_path / 'work')
    with pytest.raises(ValueError, match=r'model\.bbox_head\.loss_cls\.use_sigmoid'):
        run_train_in_process([str(no_sigmoid), '--work-dir', work_dir], monkeypatch)
    with pytest.raises(FileNotFoundError, match=r'train_dataloader\.dataset\.ann_file'):
        run_train_in_process([config, '--work-dir', work_dir, '--cfg-options',
                              'train_dataloader.dataset.ann_file=missing.json'], monkeypatch)
    assert not osp.exists(work_dir)  # failed before the runner made its work dir


def test_train_tool_prints_the_key_to_the_user(tiny):
    root, config = tiny
    run = Training([TRAIN, config, '--work-dir', str(root / 'bad_gamma'), '--cfg-options',
                    'model.bbox_head.loss_cls.gamma_neg=-1'], str(root),
                   str(root / 'bad_gamma.log'), env=hooks_env())
    output = run.wait(expect_rc=1)
    assert 'ValueError: model.bbox_head.loss_cls: gamma_neg must be in [0' in output
    assert 'Iter(train)' not in output


@pytest.mark.parametrize('config,prior,warns', [
    ('retinanet/retinanet_r50_fpn_1x_coco.py', None, True),   # RetinaHead's default 0.01
    ('atss/atss_r50_fpn_1x_coco.py', 0.10, False),
    ('atss/atss_r50_fpn_1x_coco.py', 0.05, True),   # at clip: p_m = 0, no gradient either
    ('gfl/gfl_r50_fpn_1x_coco.py', None, True),
    ('paa/paa_r50_fpn_1x_coco.py', None, True),   # PAAHead inherits ATSSHead's init_cfg
    ('fsaf/fsaf_r50_fpn_1x_coco.py', None, True),   # FSAFHead builds its default in __init__
    ('fsaf/fsaf_r50_fpn_1x_coco.py', 0.10, False),
    ('nas_fcos/nas-fcos_r50-caffe_fpn_nashead-gn-head_4xb4-1x_coco.py', None, True),  # a list
    ('yolof/yolof_r50-c5_8xb8-1x_coco.py', None, False)])  # its init_weights sets the bias
def test_a_classifier_prior_below_the_margin_is_warned_about(config, prior, warns, recwarn):
    cfg = load_config(f'mmdet::{config}')
    cfg.model.bbox_head.loss_cls = dict(ASL)
    if prior is not None:
        head = cfg.model.bbox_head
        head.init_cfg = init_cfg_with_prior(head, head.type, prior)
    config_checks.check_model(cfg)
    messages = [str(w.message) for w in recwarn if 'below clip' in str(w.message)]
    assert bool(messages) == warns
    if warns:
        assert messages[0].startswith('model.bbox_head.loss_cls: ')
        assert f'p = {prior or 0.01}, at or below clip=0.05' in messages[0]


@pytest.mark.parametrize('config', ['rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
                                    'tood/tood_r50_fpn_1x_coco.py',
                                    'dino/dino-4scale_r50_8xb2-12e_coco.py'])
@pytest.mark.parametrize('hook_prior, warns', [(None, True), (0.1, False), (0.05, True)])
def test_heads_that_set_their_prior_in_init_weights_are_warned_about_too(config, hook_prior,
                                                                         warns, recwarn):
    """Their init_weights sets p = 0.01 over any init_cfg; ClassifierPriorHook's prior counts."""
    cfg = load_config(f'mmdet::{config}')
    cfg.model.bbox_head.loss_cls = dict(ASL)
    if hook_prior is not None:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='ClassifierPriorHook', prior=hook_prior)]
    config_checks.check_model(cfg)
    messages = [str(w.message) for w in recwarn if 'below clip' in str(w.message)]
    assert bool(messages) == warns
    if hook_prior is None:
        assert 'p = 0.01, at or below clip=0.05' in messages[0]
        assert "custom_hooks=[dict(type='ClassifierPriorHook', prior=0.1)]" in messages[0]
    elif warns:
        assert 'p = 0.05 (ClassifierPriorHook), at or below clip=0.05' in messages[0]


def test_the_shipped_asl_configs_start_above_the_margin(recwarn):
    for name in ('retinanet_asl.py', 'fcos_asl.py', 'atss_asl.py', 'gfl_asl.py',
                 'rtmdet_tiny_asl.py'):
        config_checks.check_model(Config.fromfile(osp.join(REPO_CONFIGS, name)))
    assert not [w for w in recwarn if 'below clip' in str(w.message)]
