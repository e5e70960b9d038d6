"""configs/*.py: every config resolves, each ASL/focal pair differs in loss_cls alone, and every
detector builds and trains one step (ResNet-18 instead of R-50, no pretrained weights)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import detector_loss_step
from tiny_detection import REPO

CONFIG_DIR = osp.join(REPO, 'configs')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))
PAIRS = sorted(name[:-len('_asl.py')] for name in CONFIGS
               if name.endswith('_asl.py') and f'{name[:-len("_asl.py")]}_focal.py' in CONFIGS)
DETECTORS = [name for name in CONFIGS if not name.startswith('_')]


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def flatten(value, prefix=''):
    """Nested dicts / lists as {dotted.key: leaf}."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(flatten(item, f'{prefix}.{key}' if prefix else str(key)))
    return flat


def test_configs_found():
    assert {'retinanet', 'fcos', 'atss'} <= set(PAIRS)
    assert 'retinanet_asl_adaptive.py' in DETECTORS


@pytest.mark.parametrize('name', CONFIGS)
def test_config_resolves(name):
    cfg = load(name)
    assert 'asl_det' in cfg.custom_imports.imports
    if not name.startswith('_'):
        assert cfg.model.bbox_head.loss_cls.use_sigmoid is True


@pytest.mark.parametrize('pair', PAIRS)
def test_pair_differs_in_loss_cls_alone(pair):
    asl = flatten(load(f'{pair}_asl.py').to_dict())
    focal = flatten(load(f'{pair}_focal.py').to_dict())
    differing = {key for key in set(asl) | set(focal) if asl.get(key) != focal.get(key)}
    assert differing, 'the pair is identical'
    outside = sorted(k for k in differing if not k.startswith('model.bbox_head.loss_cls.'))
    assert not outside, f'{pair}: _asl and _focal also differ in {outside}'
    loss_cls = load(f'{pair}_asl.py').model.bbox_head.loss_cls
    assert loss_cls.type == 'AsymmetricLoss' and loss_cls.use_sigmoid is True
    assert 'alpha' not in loss_cls and 'gamma' not in loss_cls


def test_adaptive_differs_from_asl_in_hooks_alone():
    asl = flatten(load('retinanet_asl.py').to_dict())
    adaptive = flatten(load('retinanet_asl_adaptive.py').to_dict())
    differing = {k for k in set(asl) | set(adaptive) if asl.get(k) != adaptive.get(k)}
    assert differing and all(k.startswith('custom_hooks.') for k in differing)


@pytest.mark.parametrize('name', DETECTORS)
def test_detector_builds_and_trains_one_step(name):
    cfg = load(name)
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    model, losses, total = detector_loss_step(cfg.model, num_items=(3, 1), image_size=64)
    assert type(model.bbox_head.loss_cls).__name__ == cfg.model.bbox_head.loss_cls.type
    assert torch.isfinite(total) and total > 0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
