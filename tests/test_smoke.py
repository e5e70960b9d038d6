"""The installed stack works: mmcv ops, mmdet models, asl_det registered, one RetinaNet step."""
import torch
from conftest import detector_loss_step, load_mmdet_config


def test_mmcv_ops_and_registry():
    from mmcv.ops import nms
    from mmdet.registry import HOOKS, MODELS
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
    assert keep.tolist() == [0]
    assert MODELS.get('AsymmetricLoss') is not None
    assert HOOKS.get('AdaptiveAsymmetryHook') is not None
    assert HOOKS.get('ProbabilityStatisticsHook') is not None


def test_retinanet_r18_loss_forward_backward(asl_loss_cfg):
    cfg = load_mmdet_config('retinanet/retinanet_r18_fpn_1xb8-1x_coco.py')
    cfg.model.bbox_head.loss_cls = asl_loss_cfg
    model, losses, total = detector_loss_step(cfg.model)
    assert torch.isfinite(total)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
