"""swap_in_asl: ASL replaces the sigmoid classifier losses of stock mmdet configs (integer-label,
quality-target and DETR-family heads), refuses what it cannot serve, and says which heads score
through AsymmetricLoss.get_activation. Training with the swapped configs: tests/test_config."""
import os.path as osp
import runpy
import sys
import warnings

import pytest
import torch
from conftest import detector_loss_step
from mmdet.registry import MODELS
from mmengine.config import Config
from tiny_detection import REPO

from asl_det.config.asl_swap import (
    ASL_LOSS_CFG,
    QUALITY_TARGET_HEADS,
    REFUSALS,
    asl_parameters,
    iter_classifier_losses,
    score_activation_override,
    swap_in_asl,
)
from asl_det.config.checks import check_model
from asl_det.launch.runtime import load_config
from asl_det.models.losses import ASL_DEFAULTS

SWAPPABLE = [
    'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'atss/atss_r50_fpn_1x_coco.py',
    'fsaf/fsaf_r50_fpn_1x_coco.py',
    'paa/paa_r50_fpn_1x_coco.py',
    'reppoints/reppoints-moment_r50_fpn_1x_coco.py',
    'foveabox/fovea_r50_fpn_4xb4-1x_coco.py',
    'gfl/gfl_r50_fpn_1x_coco.py',  # QualityFocalLoss: (labels, scores)
    'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',  # the DETR family: FocalLoss
    'conditional_detr/conditional-detr_r50_8xb2-50e_coco.py',
    'dab_detr/dab-detr_r50_8xb2-50e_coco.py',
    'dino/dino-4scale_r50_8xb2-12e_coco.py',
]
REFUSED = [
    ('vfnet/vfnet_r50_fpn_1x_coco.py', 'VFNetHead', REFUSALS['VFNetHead']),
    ('yolo/yolov3_d53_8xb8-320-273e_coco.py', 'YOLOV3Head', REFUSALS['YOLOV3Head']),
    ('ghm/retinanet_r50_fpn_ghm-1x_coco.py', 'GHMC', REFUSALS['GHMC']),
]


def test_swap_writes_the_loss_defaults():
    """ASL_LOSS_CFG is the loss's own ASL_DEFAULTS plus what a config needs (one source)."""
    assert dict(ASL_LOSS_CFG) == dict(type='AsymmetricLoss', use_sigmoid=True,
                                      **ASL_DEFAULTS, loss_weight=1.0)
    assert set(ASL_LOSS_CFG) - {'type'} <= set(asl_parameters())


def test_the_train_tools_help_shows_what_asl_writes(monkeypatch, capsys):
    """``tools/train.py --help`` reads ``--asl``'s arguments from ASL_LOSS_CFG (ASL_DEFAULTS)."""
    tool = runpy.run_path(osp.join(REPO, 'tools', 'train.py'))
    monkeypatch.setattr(sys, 'argv', ['train.py', '--help'])
    with pytest.raises(SystemExit):
        tool['parse_args']()
    shown = ' '.join(capsys.readouterr().out.split())
    for key, value in ASL_LOSS_CFG.items():
        if key not in ('type', 'use_sigmoid'):
            assert f'{key}={value}' in shown, key


@pytest.mark.parametrize('name', SWAPPABLE)
def test_swap_replaces_the_classifier_loss_keeping_contract_and_weight(name):
    cfg = load_config(f'mmdet::{name}')
    original = cfg.model.bbox_head.loss_cls.to_dict()
    replaced = swap_in_asl(cfg, gamma_neg=3, clip=0.1)
    assert replaced == ['model.bbox_head.loss_cls']
    loss_cfg = cfg.model.bbox_head.loss_cls.to_dict()
    expected = dict(ASL_LOSS_CFG, gamma_neg=3, clip=0.1)
    if 'reduction' in original:  # FSAF: the head reduces the elementwise loss itself
        expected['reduction'] = original['reduction']
    # the loss's weight in the detector's sum (2.0 in Deformable / Conditional DETR)
    expected['loss_weight'] = original.get('loss_weight', 1.0)
    assert loss_cfg == expected
    assert not {'alpha', 'gamma', 'beta'} & set(loss_cfg)  # focal's and QFL's keys are gone


@pytest.mark.parametrize('name', ['retinanet/retinanet_r50_fpn_1x_coco.py',
                                  'gfl/gfl_r50_fpn_1x_coco.py',
                                  'dino/dino-4scale_r50_8xb2-12e_coco.py'])
def test_swapped_head_builds_with_asl(name):
    cfg = load_config(f'mmdet::{name}')
    swap_in_asl(cfg, gamma_neg=3, clip=0.1)
    head_cfg = cfg.model.bbox_head
    head_cfg.train_cfg, head_cfg.test_cfg = cfg.model.get('train_cfg'), cfg.model.get('test_cfg')
    head = MODELS.build(head_cfg)
    assert type(head.loss_cls).__name__ == 'AsymmetricLoss'
    assert head.loss_cls.gamma_neg == 3.0 and head.loss_cls.clip == 0.1
    assert head.cls_out_channels == head.num_classes  # sigmoid: no background channel


def test_swap_updates_an_asl_loss_instead_of_resetting_it():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'retinanet_focal_margin_prior10.py'))
    before = cfg.model.bbox_head.loss_cls.to_dict()
    swap_in_asl(cfg, clip=0.1)
    assert cfg.model.bbox_head.loss_cls.to_dict() == dict(before, clip=0.1)
    assert before['gamma_pos'] == before['gamma_neg'] == 2.0 and before['alpha'] == 0.25


def test_train_merges_cfg_options_after_the_swap(tmp_path, monkeypatch):
    """``--cfg-options`` of the classifier loss survive ``--asl`` (they are merged after it)."""
    from asl_det.launch import runtime
    seen = {}
    tool = runpy.run_path(osp.join(REPO, 'tools', 'train.py'))

    def stop(cfg, *args, **kwargs):
        seen['loss'] = cfg.model.bbox_head.loss_cls.to_dict()
        raise SystemExit(0)

    monkeypatch.setattr(runtime, 'enable_amp', stop)
    for name in ('use_safe_checkpoint_loader', 'setup_cache_size_limit_of_dynamo'):
        monkeypatch.setitem(tool['main'].__globals__, name, lambda *args, **kwargs: None)
    monkeypatch.setattr(runtime, 'report_user_errors', lambda: None)  # process-wide hooks
    monkeypatch.setattr(sys, 'argv', [
        'train.py', 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '--work-dir',
        str(tmp_path), '--amp', '--asl', 'gamma_neg=3', '--cfg-options',
        'model.bbox_head.loss_cls.compiled=True', 'model.bbox_head.loss_cls.loss_weight=2.0'])
    with pytest.raises(SystemExit):
        tool['main']()
    assert seen['loss'] == dict(ASL_LOSS_CFG, gamma_neg=3, compiled=True, loss_weight=2.0)


def test_swap_replaces_both_tood_losses_keeping_activated():
    cfg = load_config('mmdet::tood/tood_r50_fpn_1x_coco.py')
    assert cfg.model.bbox_head.initial_loss_cls.activated is True  # TOOD passes probabilities
    assert swap_in_asl(cfg, gamma_neg=3) == ['model.bbox_head.initial_loss_cls',
                                             'model.bbox_head.loss_cls']
    for key in ('initial_loss_cls', 'loss_cls'):
        assert cfg.model.bbox_head[key].to_dict() == dict(ASL_LOSS_CFG, gamma_neg=3,
                                                          activated=True)


def test_swapped_fsaf_trains_one_step():
    cfg = load_config('mmdet::fsaf/fsaf_r50_fpn_1x_coco.py')
    swap_in_asl(cfg)
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    _, losses, total = detector_loss_step(cfg.model, image_size=96)
    assert torch.isfinite(total) and total > 0


@pytest.mark.parametrize('name,refused,reason', REFUSED)
def test_swap_refuses_with_the_reason(name, refused, reason):
    cfg = load_config(f'mmdet::{name}')
    before = cfg.model.bbox_head.loss_cls.to_dict()
    with pytest.raises(ValueError) as error:
        swap_in_asl(cfg)
    assert f'{refused}: {reason}' in str(error.value)
    assert 'model.bbox_head.loss_cls' in str(error.value)
    assert cfg.model.bbox_head.loss_cls.to_dict() == before


@pytest.mark.parametrize('name,head', [
    ('free_anchor/freeanchor_r50_fpn_1x_coco.py', 'FreeAnchorRetinaHead'),
    ('autoassign/autoassign_r50-caffe_fpn_1x_coco.py', 'AutoAssignHead'),
])
def test_swap_refuses_a_head_that_never_calls_its_loss_cls(name, head):
    """mmdet's configs of these heads have no loss_cls (the head computes its own loss); one left
    in a user's config (a RetinaNet base without ``_delete_``) is built, and unused."""
    cfg = load_config(f'mmdet::{name}')
    cfg.model.bbox_head.loss_cls = dict(type='FocalLoss', use_sigmoid=True)
    with pytest.raises(ValueError) as error:
        swap_in_asl(cfg)
    assert f'{head}: {REFUSALS[head]}' in str(error.value)


def test_swap_refuses_quality_focal_loss_in_a_head_that_passes_labels_to_asl():
    cfg = load_config('mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py')
    cfg.model.bbox_head.loss_cls = dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0)
    with pytest.raises(ValueError, match=r'DINOHead is not known to pass \(labels, scores\)'):
        swap_in_asl(cfg)


def test_swap_walks_nested_heads_and_skips_softmax_and_teachers():
    cfg = Config(dict(model=dict(
        type='TwoStage',
        rpn_head=dict(type='RPNHead', loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                                    loss_weight=1.0)),
        roi_head=dict(type='Cascade', bbox_head=[
            dict(type='BBoxHead', loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False)),
            dict(type='Sigmoid', loss_cls=dict(type='FocalLoss', gamma=2.0, alpha=0.25)),
        ]),
        teacher_bbox_head=dict(type='PAAHead', loss_cls=dict(type='FocalLoss')))))
    assert swap_in_asl(cfg) == ['model.rpn_head.loss_cls',
                                'model.roi_head.bbox_head.1.loss_cls']
    assert cfg.model.rpn_head.loss_cls.type == 'AsymmetricLoss'
    assert cfg.model.roi_head.bbox_head[0].loss_cls.type == 'CrossEntropyLoss'
    assert cfg.model.roi_head.bbox_head[1].loss_cls.to_dict() == ASL_LOSS_CFG
    assert cfg.model.teacher_bbox_head.loss_cls.type == 'FocalLoss'  # a trained teacher


def test_swap_leaves_the_lad_teacher_alone():
    cfg = load_config('mmdet::lad/lad_r101-paa-r50_fpn_2xb8_coco_1x.py')
    assert swap_in_asl(cfg) == ['model.bbox_head.loss_cls']
    assert cfg.model.teacher_bbox_head.loss_cls.type == 'FocalLoss'


def test_swap_keeps_the_calling_contract_keys():
    cfg = Config(dict(model=dict(type='Det', bbox_head=dict(type='Head', loss_cls=dict(
        type='FocalLoss', use_sigmoid=True, activated=True, reduction='none', gamma=2.0)))))
    swap_in_asl(cfg, gamma_pos=1.0)
    assert cfg.model.bbox_head.loss_cls.to_dict() == dict(
        ASL_LOSS_CFG, activated=True, reduction='none', gamma_pos=1.0)


@pytest.mark.parametrize('model', [
    dict(type='Det', bbox_head=dict(type='Head', loss_bbox=dict(type='L1Loss'))),
    dict(type='DETR', bbox_head=dict(type='DETRHead', loss_cls=dict(type='CrossEntropyLoss'))),
], ids=['no_loss_cls', 'softmax_only'])
def test_swap_raises_when_nothing_to_replace(model):
    with pytest.raises(ValueError, match='found no sigmoid classifier loss'):
        swap_in_asl(Config(dict(model=model)))


def test_swap_validates_overrides_and_model():
    cfg = load_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    with pytest.raises(ValueError, match='gamma'):
        swap_in_asl(cfg, gamma=2.0)  # focal's name, not ASL's
    assert cfg.model.bbox_head.loss_cls.type == 'FocalLoss'
    with pytest.raises(ValueError, match='model'):
        swap_in_asl(Config(dict(work_dir='x')))
    assert {'gamma_pos', 'gamma_neg', 'clip', 'loss_weight'} <= set(asl_parameters())
    for bad, match in ((dict(gamma_neg=-1), r'model\.bbox_head\.loss_cls: gamma_neg must be in'),
                       (dict(clip=float('nan')), r'model\.bbox_head\.loss_cls: clip')):
        with pytest.raises(ValueError, match=match):  # said at the swap, before any data is read
            swap_in_asl(cfg, **bad)
        assert cfg.model.bbox_head.loss_cls.type == 'FocalLoss'


def test_iter_classifier_losses_yields_tood_losses_in_training_order():
    cfg = load_config('mmdet::tood/tood_r50_fpn_1x_coco.py')
    found = [(path, key, owner) for path, _, key, owner in iter_classifier_losses(cfg.model)]
    assert found == [('model.bbox_head.initial_loss_cls', 'initial_loss_cls', 'TOODHead'),
                     ('model.bbox_head.loss_cls', 'loss_cls', 'TOODHead')]


# Read from mmdet 3.3.0's heads: who calls loss_cls.get_activation (BaseDenseHead's
# _predict_by_feat_single) and who scores with its own .sigmoid().
SCORES_THROUGH_GET_ACTIVATION = ['RetinaHead', 'ATSSHead', 'FCOSHead', 'FSAFHead', 'YOLOFHead',
                                 'RTMDetSepBNHead', 'DDODHead']
SCORES_ITSELF = [
    ('GFLHead', 'GFLHead._predict_by_feat_single'),
    ('LDHead', 'GFLHead._predict_by_feat_single'),
    ('TOODHead', 'TOODHead._predict_by_feat_single'),
    ('RepPointsHead', 'RepPointsHead._predict_by_feat_single'),
    ('FoveaHead', 'FoveaHead._predict_by_feat_single'),
    ('PAAHead', 'PAAHead.predict_by_feat'),
    ('SABLRetinaHead', 'SABLRetinaHead.predict_by_feat'),
    ('YOLOXHead', 'YOLOXHead.predict_by_feat'),
    ('DeformableDETRHead', 'DeformableDETRHead.predict_by_feat'),
    ('DINOHead', 'DeformableDETRHead.predict_by_feat'),
    ('ConditionalDETRHead', 'DETRHead.predict_by_feat'),
    ('DABDETRHead', 'DETRHead.predict_by_feat'),
]


@pytest.mark.parametrize('head', SCORES_THROUGH_GET_ACTIVATION)
def test_heads_scoring_through_get_activation(head):
    assert score_activation_override(head) is None


@pytest.mark.parametrize('head,method', SCORES_ITSELF)
def test_heads_scoring_themselves_are_named(head, method):
    assert score_activation_override(head) == method


def test_score_activation_override_rejects_unknown_types():
    with pytest.raises(KeyError, match='NoSuchHead'):
        score_activation_override('NoSuchHead')


def test_quality_target_heads_are_registered_heads():
    for head in QUALITY_TARGET_HEADS:
        assert MODELS.get(head) is not None, head


def _swapped(name, **overrides):
    cfg = load_config(f'mmdet::{name}')
    swap_in_asl(cfg, **overrides)
    return cfg


def test_build_check_warns_where_the_shift_has_no_effect():
    with pytest.warns(UserWarning, match=r"^model\.bbox_head\.loss_cls\.score_activation: "
                                         r"'shifted' has no effect in GFLHead, which scores "
                                         r'detections itself in GFLHead\._predict_by_feat_single'):
        check_model(_swapped('gfl/gfl_r50_fpn_1x_coco.py'))


@pytest.mark.parametrize('name,overrides', [
    ('retinanet/retinanet_r50_fpn_1x_coco.py', {}),  # scores through get_activation
    ('rtmdet/rtmdet_tiny_8xb32-300e_coco.py', {}),
    ('gfl/gfl_r50_fpn_1x_coco.py', dict(score_activation='sigmoid')),  # plain scores meant
    ('gfl/gfl_r50_fpn_1x_coco.py', dict(clip=0.0)),  # nothing to shift
])
def test_build_check_is_silent_where_the_shift_holds_or_is_off(name, overrides):
    cfg = _swapped(name, **overrides)
    with warnings.catch_warnings():
        # the shift warning is an error here (the prior warning is another test's subject)
        warnings.filterwarnings('error', message=r'.*score_activation')
        check_model(cfg)


def test_build_check_refuses_asl_in_vfnet_with_the_reason():
    cfg = load_config('mmdet::vfnet/vfnet_r50_fpn_1x_coco.py')
    cfg.model.bbox_head.loss_cls = dict(ASL_LOSS_CFG)
    with pytest.raises(ValueError, match=r'^model\.bbox_head\.loss_cls: AsymmetricLoss cannot '
                                         r'be the classifier loss here: VFNetHead: '):
        check_model(cfg)
