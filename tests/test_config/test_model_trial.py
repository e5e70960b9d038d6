"""asl_det.config.model_trial: configs built without downloads, the documented synthetic batch,
and a trial that reports (never raises) what the ASL losses were called with."""
import torch
from mmengine.config import Config

from asl_det.config import asl_swap
from asl_det.config.asl_swap import swap_in_asl
from asl_det.config.model_trial import (
    mmdet_config_root,
    run_trial,
    synthetic_batch,
    without_pretrained,
)


def test_without_pretrained_drops_downloads_only():
    model = dict(
        backbone=dict(type='ResNet', init_cfg=dict(type='Pretrained', checkpoint='url')),
        neck=dict(init_cfg=[dict(type='Pretrained', checkpoint='url'),
                            dict(type='Xavier', layer='Conv2d')]),
        timm=dict(pretrained=True), old=dict(pretrained='url'), teacher_ckpt='url',
        head=dict(init_cfg=dict(type='Normal', std=0.01)))
    assert without_pretrained(model) == dict(
        backbone=dict(type='ResNet', init_cfg=None),
        neck=dict(init_cfg=[dict(type='Xavier', layer='Conv2d')]),
        timm=dict(pretrained=False), old=dict(pretrained=None), teacher_ckpt=None,
        head=dict(init_cfg=dict(type='Normal', std=0.01)))


def test_synthetic_batch_has_the_documented_boxes():
    batch = synthetic_batch(num_classes=3, image_size=100, with_mask=True)
    first, second = (s.gt_instances for s in batch['data_samples'])
    expected = torch.tensor([[10., 15., 55., 60.], [45., 35., 95., 90.]])
    assert torch.allclose(first.bboxes, expected)
    assert first.labels.tolist() == [1, 2] and second.labels.tolist() == [0]  # mod 3
    assert first.masks.masks[0, 15:60, 10:55].all() and first.masks.masks[0].sum() == 45 * 45
    assert [tuple(image.shape) for image in batch['inputs']] == [(3, 100, 100)] * 2


def test_trial_records_the_targets_and_the_scoring():
    cfg = Config.fromfile(f'{mmdet_config_root()}/rtmdet/rtmdet_tiny_8xb32-300e_coco.py')
    swapped = swap_in_asl(cfg)
    result = run_trial(cfg, swapped, image_size=64, max_queries=10)
    assert result.error is None and result.stage == 'predict'
    assert result.calls == {'bbox_head.loss_cls': ['(labels, scores)'] * 3}  # per FPN level
    assert result.shifts and result.activations == 3 * 2  # each level of each image


def test_trial_reports_a_loss_the_head_never_calls(tmp_path, monkeypatch):
    """FreeAnchor computes its classification loss itself: an ASL swapped into a loss_cls it
    carries is never called, and the trial says so instead of raising (its refusal by the swap
    taken away)."""
    monkeypatch.delitem(asl_swap._REFUSALS, 'FreeAnchorRetinaHead')
    config = tmp_path / 'freeanchor_with_loss_cls.py'
    config.write_text("_base_ = 'mmdet::free_anchor/freeanchor_r50_fpn_1x_coco.py'\n"
                      "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss')))\n")
    cfg = Config.fromfile(str(config))
    result = run_trial(cfg, swap_in_asl(cfg), image_size=64, max_queries=10)
    assert result.stage == 'train'
    assert result.error.startswith('train: RuntimeError: AsymmetricLoss at bbox_head.loss_cls '
                                   'was never called in training (epochs [0])')
    assert '(at asl_det/config/model_trial.py:' in result.error  # raised by the trial


def test_trial_names_the_step_and_the_place_of_an_error():
    cfg = Config.fromfile(f'{mmdet_config_root()}/retinanet/retinanet_r50_fpn_1x_coco.py')
    cfg.model.bbox_head.num_classes = 0  # mmdet's head refuses this while building
    result = run_trial(cfg, [], image_size=64, max_queries=10)
    assert result.stage == 'build' and result.error.startswith('build: ')
    assert '(at mmdet/' in result.error
