"""ASL swapped into real mmdet heads: loss_by_feat runs with and without ground truth."""
import pytest
import torch
from conftest import detector_loss_step, load_mmdet_config

HEAD_CONFIGS = [
    'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'atss/atss_r50_fpn_1x_coco.py',
    'fsaf/fsaf_r50_fpn_1x_coco.py',   # passes a flattened (N*C,) weight
    'paa/paa_r50_fpn_1x_coco.py',     # calls with reduction_override='none'
]


@pytest.mark.parametrize('config', HEAD_CONFIGS)
@pytest.mark.parametrize('num_items', [(3, 1), (0, 0)], ids=['with_gt', 'without_gt'])
def test_asl_in_head(config, num_items, asl_loss_cfg):
    cfg = load_mmdet_config(config)
    cfg.model.backbone.depth = 18
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    # FSAF needs its elementwise loss: keep the reduction the head's config asks for
    asl_loss_cfg['reduction'] = cfg.model.bbox_head.loss_cls.get('reduction', 'mean')
    cfg.model.bbox_head.loss_cls = asl_loss_cfg
    model, losses, total = detector_loss_step(cfg.model, num_items=num_items, image_size=96)
    assert type(model.bbox_head.loss_cls).__name__ == 'AsymmetricLoss'
    assert model.bbox_head.cls_out_channels == model.bbox_head.num_classes
    cls_losses = [v for k, v in losses.items() if 'cls' in k]
    assert cls_losses
    for value in cls_losses:
        values = value if isinstance(value, (list, tuple)) else [value]
        assert all(torch.isfinite(v).all() for v in values)
    assert torch.isfinite(total)
    for p in model.parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all()


QUALITY_HEAD_CONFIGS = [
    'gfl/gfl_r50_fpn_1x_coco.py',                 # logits, avg_factor = num_pos
    'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',      # logits, avg_factor = 1.0
    'tood/tood_r50_fpn_1x_coco.py',               # probabilities, avg_factor = 1.0
]


@pytest.fixture
def restore_epoch():
    """Put the message hub's 'epoch' (which TOOD reads) back as it was after the test."""
    from mmengine.logging import MessageHub
    info = MessageHub.get_current_instance().runtime_info
    had, before = 'epoch' in info, info.get('epoch')
    yield
    if had:
        info['epoch'] = before
    else:
        info.pop('epoch', None)


def small_quality_detector(config, epoch):
    """A quality-target detector small enough for CPU; ``epoch`` is what TOOD reads to choose
    between its integer-label ``initial_loss_cls`` and its quality ``loss_cls``."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('epoch', epoch)
    cfg = load_mmdet_config(config)
    if cfg.model.backbone.type == 'ResNet':
        cfg.model.backbone.depth = 18
        cfg.model.neck.in_channels = [64, 128, 256, 512]
    return cfg


def cls_losses(losses):
    values = [v for k, v in losses.items() if 'cls' in k]
    return [t for v in values for t in (v if isinstance(v, (list, tuple)) else [v])]


@pytest.mark.parametrize('config,epoch', [(QUALITY_HEAD_CONFIGS[0], 0),
                                          (QUALITY_HEAD_CONFIGS[1], 0),
                                          (QUALITY_HEAD_CONFIGS[2], 0),     # initial_loss_cls
                                          (QUALITY_HEAD_CONFIGS[2], 10)])   # loss_cls
def test_asl_in_quality_target_head_reproduces_its_loss(config, epoch, restore_epoch):
    """In GFL, RTMDet and TOOD (both of its losses), ASL with gamma_pos == gamma_neg == beta and
    clip 0 (alpha for TOOD's focal initial loss) gives the head's own classification loss: the
    same model on the same batch, its losses swapped."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    cfg = small_quality_detector(config, epoch)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    head = model.bbox_head
    packed = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_items=[3, 1],
                            num_classes=head.num_classes)
    data = model.data_preprocessor(packed, True)
    reference = cls_losses(model.loss(data['inputs'], data['data_samples']))
    own = cfg.model.bbox_head.loss_cls
    head.loss_cls = MODELS.build(dict(
        type='AsymmetricLoss', use_sigmoid=True, gamma_pos=own.beta, gamma_neg=own.beta,
        clip=0.0, activated=own.get('activated', False), loss_weight=own.loss_weight))
    if hasattr(head, 'initial_loss_cls'):
        initial = cfg.model.bbox_head.initial_loss_cls
        head.initial_loss_cls = MODELS.build(dict(
            type='AsymmetricLoss', use_sigmoid=True, gamma_pos=initial.gamma,
            gamma_neg=initial.gamma, clip=0.0, alpha=initial.alpha,
            activated=initial.activated, loss_weight=initial.loss_weight))
    values = cls_losses(model.loss(data['inputs'], data['data_samples']))
    assert len(values) == len(reference) > 0
    for value, expected in zip(values, reference):
        assert value > 0
        torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-6)
