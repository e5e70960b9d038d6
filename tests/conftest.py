"""Shared test fixtures: tiny detector inputs built from mmdet's own configs."""
import copy

import pytest
import torch
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.runner import CheckpointLoader

import asl_det  # noqa: F401  (registers the plugin)
from asl_det.checkpoint import safe_loading

register_all_modules(init_default_scope=True)

#: mmengine's checkpoint loaders as they are before any test: tests that run a tool's main
#: in-process leave asl_det's safe loader installed process-wide (as the tool does).
MMENGINE_CHECKPOINT_SCHEMES = dict(CheckpointLoader._schemes)


@pytest.fixture
def mmengine_checkpoint_loading():
    """mmengine's own checkpoint loaders (and asl_det's default trust) for one test, whatever
    earlier tests in this process installed; the state before is put back afterwards."""
    schemes, trust = CheckpointLoader._schemes, safe_loading._trust_by_default
    CheckpointLoader._schemes = type(schemes)(MMENGINE_CHECKPOINT_SCHEMES)
    safe_loading.set_trust_by_default(False)
    yield
    CheckpointLoader._schemes = schemes
    safe_loading.set_trust_by_default(trust)

ASL_LOSS = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0,
                clip=0.05)


def load_mmdet_config(name: str) -> Config:
    """``mmdet::<name>`` with pretrained backbone weights switched off (no download)."""
    cfg = get_config(f'mmdet::{name}')
    cfg.model.backbone.init_cfg = None
    return cfg


def detector_loss_step(model_cfg, num_items=(3, 0), image_size=128, seed=0):
    """Build a detector, run ``loss`` on two generated images and backward.

    Returns (model, dict of loss tensors after backward, total loss).
    """
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.train()
    packed = demo_mm_inputs(len(num_items), [[3, image_size, image_size]] * len(num_items),
                            num_items=list(num_items),
                            num_classes=model.bbox_head.num_classes)
    data = model.data_preprocessor(packed, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, _ = model.parse_losses(losses)
    total.backward()
    return model, losses, total


@pytest.fixture
def asl_loss_cfg():
    return copy.deepcopy(ASL_LOSS)
