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
