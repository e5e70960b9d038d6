"""configs/*.py: every config resolves, each ASL/baseline pair (here and in configs/demo/) differs
in loss_cls alone, ASL's arguments are written once (configs/_asl_loss.py: the paper's setting,
equal to the loss's ASL_DEFAULTS, and the shipped one, the confirmed study variant), a config named
after a study variant is that variant, and every detector builds and trains one step (ResNet-18
instead of R-50, no pretrained weights)."""
import glob
import os.path as osp

import pytest
import torch
from conftest import detector_loss_step
from mmengine.config import Config
from tiny_detection import REPO

CONFIG_DIR = osp.join(REPO, 'configs')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))
#: Suffixes of a pair's baseline: the detector's own loss (focal, GFL's QFL, RTMDet's QFL).
BASELINE_SUFFIXES = ('_focal.py', '_qfl.py', '_baseline.py')
#: configs/ and configs/demo/ (the CPU demo detectors, trained on the glyph benchmark).
ALL_CONFIGS = CONFIGS + sorted(f'demo/{osp.basename(p)}'
                               for p in glob.glob(osp.join(CONFIG_DIR, 'demo', '*.py')))
PAIRS = sorted((name[:-len('_asl.py')] + '_asl.py', name[:-len('_asl.py')] + suffix)
               for name in ALL_CONFIGS if name.endswith('_asl.py')
               for suffix in BASELINE_SUFFIXES if name[:-len('_asl.py')] + suffix in ALL_CONFIGS)
DETECTORS = [name for name in CONFIGS if not name.startswith('_')]
#: The base that defines ASL's loss_cls once (``asl_loss``, what the ASL configs ship, and
#: ``asl_paper_loss``), for the ASL configs' ``_base_``.
ASL_LOSS_BASE = '_asl_loss.py'
#: The study variant the ASL configs ship: the setting the pre-registered confirmation chose
#: (configs/PREREGISTRATION.md, "What follows from the verdicts").
SHIPPED_VARIANT = 'focal_margin_prior10_reject30'


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, name))


#: Key prefixes of an ASL config's copies of configs/_asl_loss.py's definitions.
ASL_LOSS_DEFINITIONS = tuple(f'{name}.' for name in load(ASL_LOSS_BASE).keys())


PRIOR_HOOK_MODULE = 'asl_det.engine.hooks.classifier_prior_hook'


def prior_hook(cfg):
    """The config's ClassifierPriorHook (a dict), None without one."""
    return next((hook for hook in cfg.get('custom_hooks', [])
                 if hook['type'] == 'ClassifierPriorHook'), None)


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
    assert {('retinanet_asl.py', 'retinanet_focal.py'), ('fcos_asl.py', 'fcos_focal.py'),
            ('atss_asl.py', 'atss_focal.py'), ('gfl_asl.py', 'gfl_qfl.py'),
            ('rtmdet_tiny_asl.py', 'rtmdet_tiny_baseline.py'),
            ('demo/retinanet_glyphs_asl.py', 'demo/retinanet_glyphs_focal.py'),
            ('demo/gfl_glyphs_asl.py', 'demo/gfl_glyphs_qfl.py')} <= set(PAIRS)
    assert 'retinanet_asl_adaptive.py' in DETECTORS


@pytest.mark.parametrize('name', [name for name in CONFIGS if name != ASL_LOSS_BASE])
def test_config_resolves(name):
    cfg = load(name)
    assert 'asl_det' in cfg.custom_imports.imports
    if not name.startswith('_'):
        assert cfg.model.bbox_head.loss_cls.use_sigmoid is True


@pytest.mark.parametrize('asl_name,baseline_name', PAIRS)
def test_pair_differs_in_loss_cls_alone(asl_name, baseline_name):
    asl = flatten(load(asl_name).to_dict())
    baseline = flatten(load(baseline_name).to_dict())
    differing = {key for key in set(asl) | set(baseline) if asl.get(key) != baseline.get(key)}
    assert differing, 'the pair is identical'
    hook = prior_hook(load(asl_name))
    if hook is not None:  # the prior of a head that sets it in init_weights: the hook, appended
        asl_cfg, baseline_cfg = load(asl_name), load(baseline_name)
        assert asl_cfg.custom_hooks == baseline_cfg.custom_hooks + [hook]
        assert asl_cfg.custom_imports.imports == baseline_cfg.custom_imports.imports + [
            PRIOR_HOOK_MODULE]
        assert hook['prior'] > asl_cfg.model.bbox_head.loss_cls.clip
        differing = {k for k in differing if not k.startswith(('custom_hooks.',
                                                               'custom_imports.'))}
    # besides the model: the ASL config's copy of configs/_asl_loss.py's definitions
    outside = sorted(k for k in differing if not k.startswith(
        ('model.bbox_head.loss_cls.', 'model.bbox_head.init_cfg.') + ASL_LOSS_DEFINITIONS))
    assert not outside, f'{asl_name} and {baseline_name} also differ in {outside}'
    loss_cls = load(asl_name).model.bbox_head.loss_cls
    # the other difference allowed: the classifier's initial prior, raised above the margin
    init_cfg = load(asl_name).model.bbox_head.get('init_cfg')
    if any(k.startswith('model.bbox_head.init_cfg.') for k in differing):
        assert init_cfg.override.bias_prob > loss_cls.clip
    assert loss_cls.type == 'AsymmetricLoss' and loss_cls.use_sigmoid is True
    assert not {'gamma', 'beta'} & set(loss_cls)  # focal's and QFL's own keys are gone
    assert loss_cls == load(ASL_LOSS_BASE).asl_loss  # the one definition, unchanged


@pytest.mark.parametrize('asl_name', sorted({asl for asl, _ in PAIRS}))
def test_asl_configs_ship_the_confirmed_study_variant(asl_name):
    """Every ASL config of a pair trains the study's SHIPPED_VARIANT: its loss and its prior."""
    from asl_det.benchmark.study import VARIANTS
    cfg = load(asl_name)
    variant = VARIANTS[SHIPPED_VARIANT]
    assert dict(cfg.model.bbox_head.loss_cls) == variant['loss_cls']
    init_cfg, hook = cfg.model.bbox_head.get('init_cfg'), prior_hook(cfg)
    prior = hook['prior'] if hook is not None else init_cfg.override.bias_prob
    assert prior == variant['prior']


def test_asl_arguments_are_written_once_and_are_the_loss_defaults():
    """configs/_asl_loss.py's asl_paper_loss is what ``--asl`` writes (ASL_LOSS_CFG: the loss's
    own ASL_DEFAULTS, loss_weight 1) but eps (the loss's default); no other config restates
    ASL's arguments."""
    from asl_det.config.asl_swap import ASL_LOSS_CFG
    assert dict(load(ASL_LOSS_BASE).asl_paper_loss) == {
        key: value for key, value in ASL_LOSS_CFG.items() if key != 'eps'}
    restating = []
    for path in sorted(glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)):
        relative = osp.relpath(path, CONFIG_DIR)
        folders = relative.split(osp.sep)[:-1]  # the studies' own files (variants) aside
        if relative == ASL_LOSS_BASE or any(f.startswith(('study', 'tuning')) for f in folders):
            continue
        with open(path) as f:
            text = f.read().replace(' ', '')
        if 'gamma_neg=4' in text or "type='AsymmetricLoss'" in text:
            restating.append(relative)
    assert not restating, f'{restating} restate ASL\'s arguments: inherit configs/_asl_loss.py'


@pytest.mark.parametrize('name', ['rtmdet_tiny_baseline.py', 'rtmdet_tiny_asl.py'])
def test_rtmdet_configs_restate_the_plugin_settings(name):
    """RTMDet's configs cannot take configs/_plugin.py as a second base (both define
    custom_hooks), so they restate it: the same imports and hooks, added to RTMDet's own."""
    plugin = load('_plugin.py')
    cfg = load(name)
    prior = ['ClassifierPriorHook'] if name.endswith('_asl.py') else []  # the ASL config's prior
    assert cfg.custom_imports.imports == plugin.custom_imports.imports + [
        PRIOR_HOOK_MODULE] * len(prior)
    assert cfg.custom_imports.allow_failed_imports == plugin.custom_imports.allow_failed_imports
    hooks = [hook['type'] for hook in cfg.custom_hooks]
    assert hooks == ['EMAHook', 'PipelineSwitchHook'] + [
        h['type'] for h in plugin.custom_hooks] + prior


@pytest.mark.parametrize('adaptive_name,asl_name', [
    ('retinanet_asl_adaptive.py', 'retinanet_asl.py'),
    ('demo/retinanet_glyphs_asl_adaptive.py', 'demo/retinanet_glyphs_asl.py')])
def test_adaptive_is_the_paper_loss_with_the_hook_on_its_asl_config(adaptive_name, asl_name):
    """Adaptive asymmetry steers the paper's setting (gamma_neg from 4): the adaptive config is
    its ASL config with asl_paper_loss and the hook, nothing else."""
    adaptive_cfg = load(adaptive_name)
    assert adaptive_cfg.model.bbox_head.loss_cls == load(ASL_LOSS_BASE).asl_paper_loss
    assert 'AdaptiveAsymmetryHook' in [hook['type'] for hook in adaptive_cfg.custom_hooks]
    asl = flatten(load(asl_name).to_dict())
    adaptive = flatten(adaptive_cfg.to_dict())
    differing = {k for k in set(asl) | set(adaptive) if asl.get(k) != adaptive.get(k)}
    assert differing and all(k.startswith(('custom_hooks.', 'model.bbox_head.loss_cls.'))
                             for k in differing)


@pytest.mark.parametrize('name', DETECTORS)
def test_detector_builds_and_trains_one_step(name):
    cfg = load(name)
    cfg.model.backbone.init_cfg = None
    if cfg.model.backbone.type == 'ResNet':  # RTMDet-tiny's CSPNeXt is small already
        cfg.model.backbone.depth = 18
        cfg.model.neck.in_channels = [64, 128, 256, 512]
    model, losses, total = detector_loss_step(cfg.model, num_items=(3, 1), image_size=64)
    assert type(model.bbox_head.loss_cls).__name__ == cfg.model.bbox_head.loss_cls.type
    assert torch.isfinite(total) and total > 0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('name', ['demo/gfl_glyphs_qfl.py', 'demo/gfl_glyphs_asl.py',
                                  'demo/fcos_glyphs_focal.py', 'demo/atss_glyphs_focal.py'])
def test_demo_detector_builds_and_trains_one_step(name):
    """The other demo detectors (quality-target GFL, the transfer check's FCOS and ATSS) as
    configured (already small)."""
    cfg = load(name)
    model, losses, total = detector_loss_step(cfg.model, num_items=(3, 1), image_size=128)
    assert type(model).__name__ == cfg.model.type
    assert type(model.bbox_head.loss_cls).__name__ == cfg.model.bbox_head.loss_cls.type
    assert torch.isfinite(total) and total > 0


@pytest.mark.parametrize('asl_name', sorted({asl for asl, _ in PAIRS}))
def test_asl_detector_starts_with_its_negatives_above_the_margin(asl_name):
    """Where an ASL config sets the classifier's prior, init_weights gives that prior to the
    head's classifier bias and it lies above clip (so negatives have a loss from step one)."""
    from types import SimpleNamespace

    from mmdet.registry import HOOKS, MODELS
    cfg = load(asl_name)
    init_cfg, hook = cfg.model.bbox_head.get('init_cfg'), prior_hook(cfg)
    assert (init_cfg is None) != (hook is None), 'the prior is set in one place'
    cfg.model.backbone.init_cfg = None  # no pretrained weights (no download)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if hook is None:
        prior, layers = init_cfg.override.bias_prob, [getattr(model.bbox_head,
                                                              init_cfg.override.name)]
    else:  # before training from scratch, after init_weights (which set p = 0.01)
        import importlib
        importlib.import_module(PRIOR_HOOK_MODULE)
        HOOKS.build(hook).before_train(SimpleNamespace(model=model, iter=0, _has_loaded=False))
        from asl_det.config.classifier_prior import classifier_layers
        prior, layers = hook['prior'], classifier_layers(model.bbox_head)
    for layer in layers:
        assert torch.sigmoid(layer.bias).detach() == pytest.approx(prior, rel=1e-4)
    assert prior > cfg.model.bbox_head.loss_cls.clip


#: Configs of the setting named by the study variant focal_margin_prior10 (one name for both).
FOCAL_MARGIN_PRIOR10 = [name for name in CONFIGS if name.endswith('_focal_margin_prior10.py')]


def test_the_focal_margin_prior10_configs_are_found():
    assert FOCAL_MARGIN_PRIOR10 == ['atss_focal_margin_prior10.py',
                                    'retinanet_focal_margin_prior10.py']


@pytest.mark.parametrize('name', FOCAL_MARGIN_PRIOR10)
def test_a_config_named_after_a_study_variant_is_that_variant(name):
    """configs/*_focal_margin_prior10.py carry the loss and prior of the study's
    focal_margin_prior10 variant, on top of their *_asl.py sibling, and differ from it in
    loss_cls alone."""
    from asl_det.benchmark.study import VARIANTS
    cfg = load(name)
    variant = VARIANTS['focal_margin_prior10']
    assert dict(cfg.model.bbox_head.loss_cls) == variant['loss_cls']
    assert cfg.model.bbox_head.init_cfg.override.bias_prob == variant['prior']
    asl = flatten(load(name.replace('_focal_margin_prior10.py', '_asl.py')).to_dict())
    tuned = flatten(cfg.to_dict())
    differing = {k for k in set(asl) | set(tuned) if asl.get(k) != tuned.get(k)}
    assert differing and all(k.startswith('model.bbox_head.loss_cls.') for k in differing)
