"""swap_in_asl: ASL replaces the sigmoid loss_cls of stock mmdet configs, refuses soft targets."""
import pytest
import torch
from mmengine.config import Config
from mmdet.registry import MODELS

from asl_det.utils.asl_config import ASL_DEFAULTS, asl_parameters, swap_in_asl
from asl_det.utils.runtime import load_config
from conftest import detector_loss_step

SWAPPABLE = [
    'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'atss/atss_r50_fpn_1x_coco.py',
    'fsaf/fsaf_r50_fpn_1x_coco.py',
    'paa/paa_r50_fpn_1x_coco.py',
    'reppoints/reppoints-moment_r50_fpn_1x_coco.py',
    'foveabox/fovea_r50_fpn_4xb4-1x_coco.py',
]
SOFT_TARGET = [
    ('gfl/gfl_r50_fpn_1x_coco.py', 'GFLHead'),
    ('tood/tood_r50_fpn_1x_coco.py', 'TOODHead'),
    ('vfnet/vfnet_r50_fpn_1x_coco.py', 'VFNetHead'),
    ('rtmdet/rtmdet_tiny_8xb32-300e_coco.py', 'RTMDetSepBNHead'),
]


@pytest.mark.parametrize('name', SWAPPABLE)
def test_swap_replaces_focal_loss_whole(name):
    cfg = load_config(f'mmdet::{name}')
    original = cfg.model.bbox_head.loss_cls.to_dict()
    replaced = swap_in_asl(cfg, gamma_neg=3, clip=0.1)
    assert replaced == ['model.bbox_head.loss_cls']
    loss_cfg = cfg.model.bbox_head.loss_cls.to_dict()
    expected = dict(ASL_DEFAULTS, gamma_neg=3, clip=0.1)
    if 'reduction' in original:  # FSAF: the head reduces the elementwise loss itself
        expected['reduction'] = original['reduction']
    assert loss_cfg == expected
    assert 'alpha' not in loss_cfg and 'gamma' not in loss_cfg
    head = MODELS.build(cfg.model.bbox_head)
    assert type(head.loss_cls).__name__ == 'AsymmetricLoss'
    assert head.loss_cls.gamma_neg == 3.0 and head.loss_cls.clip == 0.1
    assert head.cls_out_channels == head.num_classes  # sigmoid: no background channel


def test_swapped_fsaf_trains_one_step():
    cfg = load_config('mmdet::fsaf/fsaf_r50_fpn_1x_coco.py')
    swap_in_asl(cfg)
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    _, losses, total = detector_loss_step(cfg.model, image_size=96)
    assert torch.isfinite(total) and total > 0


@pytest.mark.parametrize('name,head', SOFT_TARGET)
def test_swap_refuses_soft_target_heads(name, head):
    cfg = load_config(f'mmdet::{name}')
    before = cfg.model.bbox_head.loss_cls.to_dict()
    with pytest.raises(ValueError, match=head):
        swap_in_asl(cfg)
    assert cfg.model.bbox_head.loss_cls.to_dict() == before


def test_swap_walks_nested_heads_and_skips_softmax():
    cfg = Config(dict(model=dict(
        type='TwoStage',
        rpn_head=dict(type='RPNHead', loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                                    loss_weight=1.0)),
        roi_head=dict(type='Cascade', bbox_head=[
            dict(type='BBoxHead', loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False)),
            dict(type='Sigmoid', loss_cls=dict(type='FocalLoss', gamma=2.0, alpha=0.25)),
        ]))))
    assert swap_in_asl(cfg) == ['model.rpn_head.loss_cls',
                                'model.roi_head.bbox_head.1.loss_cls']
    assert cfg.model.rpn_head.loss_cls.type == 'AsymmetricLoss'
    assert cfg.model.roi_head.bbox_head[0].loss_cls.type == 'CrossEntropyLoss'
    assert cfg.model.roi_head.bbox_head[1].loss_cls.to_dict() == ASL_DEFAULTS


def test_swap_keeps_the_calling_contract_keys():
    cfg = Config(dict(model=dict(type='Det', bbox_head=dict(type='Head', loss_cls=dict(
        type='FocalLoss', use_sigmoid=True, activated=True, reduction='none', gamma=2.0)))))
    swap_in_asl(cfg, gamma_pos=1.0)
    assert cfg.model.bbox_head.loss_cls.to_dict() == dict(
        ASL_DEFAULTS, activated=True, reduction='none', gamma_pos=1.0)


@pytest.mark.parametrize('model', [
    dict(type='Det', bbox_head=dict(type='Head', loss_bbox=dict(type='L1Loss'))),
    dict(type='DETR', bbox_head=dict(type='DETRHead', loss_cls=dict(type='CrossEntropyLoss'))),
], ids=['no_loss_cls', 'softmax_only'])
def test_swap_raises_when_nothing_to_replace(model):
    with pytest.raises(ValueError, match='found no sigmoid loss_cls'):
        swap_in_asl(Config(dict(model=model)))


def test_swap_validates_overrides_and_model():
    cfg = load_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    with pytest.raises(ValueError, match='gamma'):
        swap_in_asl(cfg, gamma=2.0)  # focal's name, not ASL's
    assert cfg.model.bbox_head.loss_cls.type == 'FocalLoss'
    with pytest.raises(ValueError, match='model'):
        swap_in_asl(Config(dict(work_dir='x')))
    assert {'gamma_pos', 'gamma_neg', 'clip', 'loss_weight'} <= set(asl_parameters())
