"""The study's grid: loss variants, each one ASL ingredient away from the tuned focal baseline.

A variant is a ``loss_cls`` for the baseline detector (the demo RetinaNet,
``configs/demo/retinanet_glyphs_focal.py``, or any dense head trained with FocalLoss) plus,
where the variant is about the head rather than the loss, the classifier's initial prior.
Every variant shares the baseline's architecture, schedule, data order and initial weights for a
given seed (the classification bias of the ``prior`` variants aside).

Why these numbers:

- ``focal``: mmdet's tuned RetinaNet loss, gamma 2 and alpha 0.25, the baseline every paired
  difference is taken against.
- ``asl_paper``: the paper's recommended classification setting (gamma_pos 0, gamma_neg 4,
  clip 0.05, no alpha), what ``--asl`` writes (``configs/_asl_loss.py``'s ``asl_paper_loss``).
- ``focal_margin``: focal loss plus the probability margin alone (clip 0.05, the paper's value).
- ``focal_asym``: focal loss plus asymmetric focusing alone: the paper's gammas (0, 4), focal's
  alpha, no margin.
- ``asl_alpha``: both ingredients with focal's alpha (the ASL authors' advice for detection:
  start from the tuned focal loss with exactly its alpha); it differs from ``asl_paper`` in
  alpha alone.
- ``*_prior10``: the head's classification bias initialised to p = 0.10 instead of mmdet's 0.01.
  At 0.01 every negative sits below clip 0.05, so the first iterations see exactly zero loss and
  gradient from all negatives; at 0.10 they sit above the margin from the start.
  ``focal_prior10`` is focal loss with that start: the control that separates the prior's own
  effect from the margin's.
- ``focal_margin_prior10_reject30``: ``focal_margin_prior10`` that also stops pushing down the
  negatives the detector already scores above 0.3, where unlabelled objects' anchors sit
  (docs/rejection.md); what the ``configs/*_asl.py`` ship, confirmed on BCCD and TXL-PBC
  (configs/PREREGISTRATION.md).
- ``*_adaptive``: adaptive asymmetry (paper section 2.7) on top, with the demo's step size.
"""
import copy
import math
import re
from typing import Dict, List, Optional, Sequence

from mmengine.config import DictAction

from asl_det.config.classifier_prior import check_prior
from asl_det.models.losses.asymmetric_loss import ASL_DEFAULTS
from asl_det.validation import check_distinct, check_number

FOCAL = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)
#: The ranges of FocalLoss's arguments, which mmdet's class does not check (a variant's are).
FOCAL_RANGES = dict(gamma=(0.0, math.inf), alpha=(0.0, 1.0), loss_weight=(0.0, math.inf))

#: The paper's setting (:data:`~asl_det.models.losses.asymmetric_loss.ASL_DEFAULTS`), what the
#: ``configs/*_asl.py`` (through ``configs/_asl_loss.py``) and ``--asl`` start from.
ASL = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=ASL_DEFAULTS['gamma_pos'],
           gamma_neg=ASL_DEFAULTS['gamma_neg'], clip=ASL_DEFAULTS['clip'], loss_weight=1.0)
#: Focal loss's focusing and balance as ASL arguments: its gamma on both sides, its alpha.
FOCAL_GAMMAS_AND_ALPHA = dict(gamma_pos=FOCAL['gamma'], gamma_neg=FOCAL['gamma'],
                              alpha=FOCAL['alpha'])


def _asl(**changes) -> Dict:
    """:data:`ASL` with ``changes`` (AsymmetricLoss arguments), a new dict."""
    return dict(ASL, **changes)


#: Classification prior above the default margin: the head's own ``init_cfg`` (the config's,
#: else its class default) with ``bias_prob`` 0.10 instead of 0.01
#: (:func:`asl_det.config.classifier_prior.init_cfg_with_prior`).
PRIOR_ABOVE_MARGIN = 0.10
#: Negatives scored above this are rejected (zero loss and gradient; ``reject_above`` of
#: AsymmetricLoss): where the anchors of unlabelled objects sit under focal loss, chosen on
#: BCCD's tuning split (configs/bccd/tuning, configs/PREREGISTRATION.md).
REJECT_ABOVE = 0.3
#: The demo's adaptive-asymmetry settings (configs/demo/retinanet_glyphs_asl_adaptive.py).
ADAPTIVE = dict(type='AdaptiveAsymmetryHook', target_gap=0.1, step_size=2e-3, interval=1,
                momentum=0.9, gamma_neg_bounds=(0.0, 8.0))

#: name -> dict(loss_cls=<model.bbox_head.loss_cls>, prior=<the classifier's initial prior>,
#: hooks=<custom_hooks added to the config's; each replaces the config hooks its class extends>).
VARIANTS: Dict[str, Dict] = {
    'focal': dict(loss_cls=FOCAL),
    'asl_paper': dict(loss_cls=ASL),
    'focal_margin': dict(loss_cls=_asl(**FOCAL_GAMMAS_AND_ALPHA)),
    'focal_asym': dict(loss_cls=_asl(clip=0.0, alpha=FOCAL['alpha'])),
    'asl_alpha': dict(loss_cls=_asl(alpha=FOCAL['alpha'])),
    'asl_paper_prior10': dict(loss_cls=ASL, prior=PRIOR_ABOVE_MARGIN),
    'focal_prior10': dict(loss_cls=FOCAL, prior=PRIOR_ABOVE_MARGIN),
    'asl_alpha_prior10': dict(loss_cls=_asl(alpha=FOCAL['alpha']), prior=PRIOR_ABOVE_MARGIN),
    'focal_margin_prior10': dict(loss_cls=_asl(**FOCAL_GAMMAS_AND_ALPHA),
                                 prior=PRIOR_ABOVE_MARGIN),
    'focal_margin_prior10_reject30': dict(
        loss_cls=_asl(**FOCAL_GAMMAS_AND_ALPHA, reject_above=REJECT_ABOVE),
        prior=PRIOR_ABOVE_MARGIN),
    'focal_asym_adaptive': dict(loss_cls=_asl(clip=0.0, alpha=FOCAL['alpha']), hooks=[ADAPTIVE]),
    'asl_alpha_adaptive': dict(loss_cls=_asl(alpha=FOCAL['alpha']), hooks=[ADAPTIVE]),
    'asl_paper_prior10_adaptive': dict(loss_cls=ASL, prior=PRIOR_ABOVE_MARGIN,
                                       hooks=[ADAPTIVE]),
}
#: The variant every paired difference is taken against.
BASELINE = 'focal'
#: The comparisons named before the runs, each against ``BASELINE``: what ``--asl`` gives
#: (``asl_paper``), what the ``configs/*_asl.py`` shipped until the confirmation
#: (``asl_paper_prior10``) and the ``configs/*_focal_margin_prior10.py``
#: (``focal_margin_prior10``). The report keeps them in their own table (Holm within it).
PRIMARY_VARIANTS = ('asl_paper', 'asl_paper_prior10', 'focal_margin_prior10')
#: What ``tools/study.py`` trains when no ``--variants`` are given, in this order.
DEFAULT_VARIANTS = ('focal', 'asl_paper', 'asl_paper_prior10', 'asl_alpha_prior10',
                    'focal_margin_prior10', 'focal_prior10', 'focal_asym',
                    'asl_paper_prior10_adaptive', 'asl_alpha', 'focal_margin')


#: Variant names: they become file names (``<variant>_seed<seed>.json``, run configs).
NAME_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')
#: The keys of a variant; any other key of a command-line definition goes into ``loss_cls``.
SPEC_KEYS = ('loss_cls', 'prior', 'hooks')


def check_variants(names, defined: Optional[Dict[str, Dict]] = None) -> List[str]:
    """``names`` as a list, each a key of :data:`VARIANTS` or of ``defined`` (the user's own
    variants); ValueError naming the unknown ones."""
    names = list(names)
    known = set(VARIANTS) | set(defined or {})
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f'variants must be a non-empty list of {sorted(known)}, got '
                         f'unknown {unknown}' if unknown else 'variants must not be empty')
    return check_distinct('variants', names)


def variant_config(name: str, defined: Optional[Dict[str, Dict]] = None) -> Dict:
    """Variant ``name`` (from ``defined``, else :data:`VARIANTS`) with every key present:
    ``loss_cls``, ``prior`` (None: keep the head's initialisation), ``hooks`` (None: the
    config's ``custom_hooks`` unchanged; else see
    :func:`~asl_det.benchmark.study.plan.with_variant_hooks`), as independent copies."""
    variant = copy.deepcopy((defined or {}).get(name, VARIANTS.get(name)))
    if variant is None:
        raise ValueError(f'unknown variant {name!r}')
    return dict(loss_cls=variant['loss_cls'], prior=variant.get('prior'),
                hooks=variant.get('hooks'))


def check_loss_builds(name: str, loss_cls: Dict) -> None:
    """ValueError naming variant ``name`` when mmdet's ``MODELS`` cannot build ``loss_cls``
    (an unknown argument, a value out of its range). A type not registered yet is left to the
    run, whose config may register it (``custom_imports``)."""
    import mmdet.models  # noqa: F401  (registers mmdet's losses; asl_det's, this package, are)
    from mmdet.registry import MODELS
    if MODELS.get(loss_cls['type']) is None:
        return
    try:
        MODELS.build(copy.deepcopy(loss_cls))
        if loss_cls['type'].split('.')[-1] == 'FocalLoss':  # mmdet's checks none of them
            for key, (low, high) in FOCAL_RANGES.items():
                if key in loss_cls:
                    check_number(key, loss_cls[key], low, high)
    except (TypeError, ValueError) as error:
        raise ValueError(f'variant {name}: loss_cls {loss_cls} cannot be built: {error}') from None


def check_variant_spec(name: str, spec: Dict) -> Dict:
    """Validate one user-defined variant and return it with every key (see
    :func:`variant_config`): a file-safe ``name`` that is not a named variant, ``loss_cls`` a
    dict with a ``type``, ``prior`` None or in (0, 1), ``hooks`` None or a list of dicts with a
    ``type``; the loss is built once (mmdet's ``MODELS``), so that a bad argument is an error
    here, naming the variant, and not in every run."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f'variant name must match {NAME_PATTERN.pattern} (it names files), '
                         f'got {name!r}')
    if name in VARIANTS:
        raise ValueError(f'variant name {name!r} is a named variant of '
                         'asl_det/benchmark/study/variants.py: choose another name')
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f'variant {name}: keys must be among {SPEC_KEYS}, got {unknown}')
    loss = spec.get('loss_cls')
    if not isinstance(loss, dict) or not isinstance(loss.get('type'), str):
        raise ValueError(f'variant {name}: loss_cls must be a dict with a type, got {loss!r}')
    check_loss_builds(name, loss)
    prior = spec.get('prior')
    if prior is not None:
        try:
            check_prior(prior, f'variant {name}: prior')
        except TypeError as error:  # a user's value (prior=true): a usage error
            raise ValueError(str(error)) from None
    hooks = spec.get('hooks')
    if hooks is not None and (not isinstance(hooks, list)
                              or not all(isinstance(h, dict) and 'type' in h for h in hooks)):
        raise ValueError(f'variant {name}: hooks must be a list of dicts with a type, got '
                         f'{hooks!r}')
    return dict(loss_cls=dict(loss), prior=prior,
                hooks=None if hooks is None else [dict(h) for h in hooks])


def parse_variant(name: str, assignments: Sequence[str]) -> Dict:
    """A variant from the command line: ``NAME KEY=VALUE ...``.

    ``base=VARIANT`` starts from a named variant (default: ``AsymmetricLoss`` with
    :data:`~asl_det.models.losses.asymmetric_loss.ASL_DEFAULTS`; ``type=...`` alone starts from
    that loss type with ``use_sigmoid=True``); ``prior=P`` sets the classifier's initial
    prior (``prior=None`` keeps the head's); every other key sets an argument of ``loss_cls``.
    Values are read as ``--cfg-options`` reads them (numbers, true/false, None, lists).
    Example: ``asl_g3_c10 gamma_neg=3 clip=0.1 prior=0.1``.
    """
    settings = {}
    for item in assignments:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError(f'variant {name}: arguments must be KEY=VALUE, got {item!r}')
        if key in settings:
            raise ValueError(f'variant {name}: {key} is given twice')
        settings[key] = DictAction._parse_iterable(value)
    base = settings.pop('base', None)
    if base is not None:
        if base not in VARIANTS:
            raise ValueError(f'variant {name}: base must be a named variant, one of '
                             f'{sorted(VARIANTS)}, got {base!r}')
        spec = variant_config(base)
    elif 'type' in settings and settings['type'] != 'AsymmetricLoss':
        spec = dict(loss_cls=dict(use_sigmoid=True), prior=None, hooks=None)
    else:
        spec = dict(loss_cls=dict(ASL), prior=None, hooks=None)
    if 'prior' in settings:
        spec['prior'] = settings.pop('prior')
    spec['loss_cls'].update(settings)
    return check_variant_spec(name, spec)


def load_variant_file(path: str) -> Dict[str, Dict]:
    """User-defined variants from a config file (Python, JSON or YAML, read by mmengine) that
    holds ``variants = dict(NAME=dict(loss_cls=..., prior=..., hooks=[...]), ...)``."""
    from mmengine.config import Config
    variants = Config.fromfile(path).get('variants')
    if not isinstance(variants, dict) or not variants:
        raise ValueError(f'{path}: a variant file must define a non-empty dict `variants` '
                         '(name -> dict(loss_cls=..., prior=..., hooks=...))')
    return {name: check_variant_spec(name, dict(spec)) for name, spec in variants.items()}
