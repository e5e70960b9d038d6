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
  clip 0.05, no alpha), as ``configs/retinanet_asl.py`` ships it.
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
- ``*_adaptive``: adaptive asymmetry (paper section 2.7) on top, with the demo's step size.
"""
import copy
from typing import Dict, List

FOCAL = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)


def _asl(gamma_pos: float, gamma_neg: float, clip: float, alpha=None) -> Dict:
    loss = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=gamma_pos,
                gamma_neg=gamma_neg, clip=clip, loss_weight=1.0)
    if alpha is not None:
        loss['alpha'] = alpha
    return loss


#: Classification prior above the default margin: the head's own ``init_cfg`` (the config's,
#: else its class default) with ``bias_prob`` 0.10 instead of 0.01
#: (:func:`asl_det.config.classifier_prior.init_cfg_with_prior`).
PRIOR_ABOVE_MARGIN = 0.10
#: The demo's adaptive-asymmetry settings (configs/demo/retinanet_glyphs_asl_adaptive.py).
ADAPTIVE = dict(type='AdaptiveAsymmetryHook', target_gap=0.1, step_size=2e-3, interval=1,
                momentum=0.9, gamma_neg_bounds=(0.0, 8.0))

#: name -> dict(loss_cls=<model.bbox_head.loss_cls>, prior=<the classifier's initial prior>,
#: hooks=<custom_hooks added to the config's; each replaces the config hooks its class extends>).
VARIANTS: Dict[str, Dict] = {
    'focal': dict(loss_cls=FOCAL),
    'asl_paper': dict(loss_cls=_asl(0.0, 4.0, 0.05)),
    'focal_margin': dict(loss_cls=_asl(2.0, 2.0, 0.05, alpha=0.25)),
    'focal_asym': dict(loss_cls=_asl(0.0, 4.0, 0.0, alpha=0.25)),
    'asl_alpha': dict(loss_cls=_asl(0.0, 4.0, 0.05, alpha=0.25)),
    'asl_paper_prior10': dict(loss_cls=_asl(0.0, 4.0, 0.05), prior=PRIOR_ABOVE_MARGIN),
    'focal_prior10': dict(loss_cls=FOCAL, prior=PRIOR_ABOVE_MARGIN),
    'asl_alpha_prior10': dict(loss_cls=_asl(0.0, 4.0, 0.05, alpha=0.25), prior=PRIOR_ABOVE_MARGIN),
    'focal_margin_prior10': dict(loss_cls=_asl(2.0, 2.0, 0.05, alpha=0.25),
                                 prior=PRIOR_ABOVE_MARGIN),
    'focal_asym_adaptive': dict(loss_cls=_asl(0.0, 4.0, 0.0, alpha=0.25), hooks=[ADAPTIVE]),
    'asl_alpha_adaptive': dict(loss_cls=_asl(0.0, 4.0, 0.05, alpha=0.25), hooks=[ADAPTIVE]),
    'asl_paper_prior10_adaptive': dict(loss_cls=_asl(0.0, 4.0, 0.05), prior=PRIOR_ABOVE_MARGIN,
                                       hooks=[ADAPTIVE]),
}
#: The variant every paired difference is taken against.
BASELINE = 'focal'
#: The comparisons named before the runs, each against ``BASELINE``: what ``--asl`` gives
#: (``asl_paper``), what the ``configs/*_asl.py`` ship (``asl_paper_prior10``) and the recipe
#: (``focal_margin_prior10``). The report keeps them in their own table (Holm within it).
PRIMARY_VARIANTS = ('asl_paper', 'asl_paper_prior10', 'focal_margin_prior10')
#: What ``tools/study.py`` trains when no ``--variants`` are given, in this order.
DEFAULT_VARIANTS = ('focal', 'asl_paper', 'asl_paper_prior10', 'asl_alpha_prior10',
                    'focal_margin_prior10', 'focal_prior10', 'focal_asym',
                    'asl_paper_prior10_adaptive', 'asl_alpha', 'focal_margin')


def check_variants(names) -> List[str]:
    """``names`` as a list, each a key of :data:`VARIANTS`; ValueError naming the unknown ones."""
    names = list(names)
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise ValueError(f'variants must be a non-empty list of {sorted(VARIANTS)}, got '
                         f'unknown {unknown}' if unknown else 'variants must not be empty')
    return names


def variant_config(name: str) -> Dict:
    """Variant ``name`` with every key present: ``loss_cls``, ``prior`` (None: keep the head's
    initialisation), ``hooks`` (None: the config's ``custom_hooks`` unchanged; else see
    :func:`~asl_det.benchmark.study.plan.with_variant_hooks`), as independent copies."""
    variant = copy.deepcopy(VARIANTS[name])
    return dict(loss_cls=variant['loss_cls'], prior=variant.get('prior'),
                hooks=variant.get('hooks'))
