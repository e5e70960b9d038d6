"""Swap the classification losses of an mmdet detector config for the Asymmetric Loss.

``tools/train.py --asl [key=value ...]`` calls :func:`swap_in_asl` on the loaded config, so a
stock config such as ``mmdet::gfl/gfl_r50_fpn_1x_coco.py`` or
``mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py`` trains with ASL without writing a new config
file. This module also says which heads take which classifier target
(:data:`QUALITY_TARGET_HEADS`), which the swap refuses and why (:data:`REFUSALS`), and whether a
head scores detections through ``AsymmetricLoss.get_activation``
(:func:`score_activation_override`).
"""
import inspect
from types import MappingProxyType
from typing import Any, Iterator, List, Optional, Tuple

from asl_det.config.custom_imports import add_custom_import
from asl_det.engine.hooks.probability_statistics_hook import CLASSIFIER_LOSS_KEYS
from asl_det.models.losses import ASL_DEFAULTS, AsymmetricLoss

#: The classifier loss that :func:`swap_in_asl` writes (the loss's own defaults); ``**overrides``
#: update it. Read-only.
ASL_LOSS_CFG = MappingProxyType(dict(type='AsymmetricLoss', use_sigmoid=True, **ASL_DEFAULTS,
                                     loss_weight=1.0))

#: Sigmoid classifier losses ASL replaces: called with (N,) integer labels (``FocalLoss``; V3Det's
#: ``FocalCustomLoss``), with ``(labels (N,), scores (N,))`` (``QualityFocalLoss``), or with an
#: (N, C) soft target (sigmoid ``CrossEntropyLoss`` in YOLOX). ``CrossEntropyLoss`` counts only
#: with ``use_sigmoid=True`` (softmax heads grow a background channel and would change meaning).
SWAPPABLE_LOSSES = ('FocalLoss', 'FocalCustomLoss', 'CrossEntropyLoss', 'QualityFocalLoss',
                    'AsymmetricLoss')

#: Heads whose ``loss_cls`` receives ``(labels, scores)`` quality targets (TOOD: after its
#: ``initial_epoch``; its ``initial_loss_cls`` gets integer labels). Every other head the swap
#: accepts passes integer labels (YOLOX: an (N, C) soft target). A ``QualityFocalLoss`` in any
#: other head is refused: the DETR family passes (labels, IoU) only to an mmdet
#: ``QualityFocalLoss`` instance (``DETRHead`` checks ``isinstance``) and labels to anything else.
QUALITY_TARGET_HEADS = ('GFLHead', 'LDHead', 'TOODHead', 'RTMDetHead', 'RTMDetSepBNHead',
                        'RTMDetInsHead', 'RTMDetInsSepBNHead')

#: Head or loss types the swap (and the build-time config check) refuses, with the reason.
_REFUSALS = {
    'VFNetHead': (
        "VFNet's VarifocalLoss takes a dense (N, C) IoU target and weights each positive element "
        'by its IoU (q * BCE(x, q)) and each negative by alpha * p^gamma; it is already '
        'asymmetric (only negatives are focused). AsymmetricLoss reads an (N, C) tensor as a soft '
        'label, y * L+ + (1 - y) * L-, a different loss with a different optimum and no IoU '
        'weighting of positives, so swapping it in would train something that is neither VFNet '
        'nor ASL. Heads that pass (labels, scores) tuples (GFL, TOOD, RTMDet) take the '
        'quality-target ASL'),
    'YOLOV3Head': (
        'YOLOV3Head calls its loss_cls with (B, N, C) predictions, (B, N, C) one-hot targets and '
        'a (B, N, 1) weight; AsymmetricLoss takes (N, C) predictions with (N,), (N, C) or (N*C,) '
        "weights (mmdet's FocalLoss contract), so it would fail at the first training step"),
    'GHMC': (
        'GHM-C is a loss of its own (binary cross-entropy reweighted by gradient density), not a '
        'focal loss: replacing it compares ASL with GHM instead of swapping a classifier loss. '
        "Start from the same detector's FocalLoss config (e.g. "
        'retinanet/retinanet_r50_fpn_1x_coco.py)'),
    'GaussianFocalLoss': (
        'GaussianFocalLoss (CenterNet) trains a heatmap against a Gaussian target and '
        'down-weights negatives near an object centre by (1 - y)^4; AsymmetricLoss would read '
        'the Gaussian as a soft label, y * L+ + (1 - y) * L-, a different loss with no such '
        'down-weighting'),
    'FreeAnchorRetinaHead': (
        'FreeAnchorRetinaHead computes its classification loss itself (focal-weighted positive '
        'and negative bag losses over anchor bags, in loss_by_feat) and never calls its loss_cls '
        '(one left in a config, e.g. inherited from a RetinaNet base without _delete_, is built '
        'and unused): a swapped loss_cls would train nothing different and change only how '
        'detections are scored at test time'),
    'AutoAssignHead': (
        'AutoAssignHead computes its classification loss itself (confidence-weighted positive '
        'and negative losses with its center prior, in loss_by_feat) and never calls its '
        'loss_cls: a swapped loss_cls would train nothing different and change only how '
        'detections are scored at test time'),
}
_REFUSALS['VarifocalLoss'] = _REFUSALS['VFNetHead']  # VFNet's own loss, for the same reason
REFUSALS = MappingProxyType(_REFUSALS)

#: Keys of the original loss kept in the swap: the head's calling contract (FSAF reduces the
#: elementwise loss itself with ``reduction='none'``; TOOD's losses take probabilities,
#: ``activated=True``) and the loss's weight in the detector's sum (2.0 in Deformable DETR,
#: DINO-improved, Sparse R-CNN: the box losses and the matcher's costs are tuned against it), not
#: focal's hyper-parameters.
CARRIED_KEYS = ('reduction', 'activated', 'loss_weight')

#: Model keys the swap does not walk into: a distillation teacher is a trained model whose loss
#: is not trained (LAD's teacher PAA head scores its label assignment with its own FocalLoss).
FROZEN_PREFIX = 'teacher_'


def asl_parameters() -> List[str]:
    """Names accepted by ``AsymmetricLoss(...)`` (and so by ``swap_in_asl(**overrides)``)."""
    params = inspect.signature(AsymmetricLoss.__init__).parameters
    return [name for name in params if name != 'self']


def type_name(value: Any) -> Optional[str]:
    """The ``type`` of a config dict as a string (class objects give their name)."""
    if value is None:
        return None
    return value if isinstance(value, str) else getattr(value, '__name__', str(value))


def iter_classifier_losses(node: Any, path: str = 'model', owner: Optional[str] = None
                           ) -> Iterator[Tuple[str, dict, str, Optional[str]]]:
    """(dotted path, dict holding it, key, owner type) of every dict-valued classifier loss.

    The keys are :data:`CLASSIFIER_LOSS_KEYS`; the owner is the type of the nearest enclosing
    dict with a ``type`` (the head), e.g. ``('model.bbox_head.loss_cls', cfg.model.bbox_head,
    'loss_cls', 'RetinaHead')``. Keys starting with :data:`FROZEN_PREFIX` are not walked.
    """
    if isinstance(node, dict):
        owner = type_name(node.get('type')) or owner
        for key in CLASSIFIER_LOSS_KEYS:
            if isinstance(node.get(key), dict):
                yield f'{path}.{key}', node, key, owner
        for key, value in node.items():
            if key not in CLASSIFIER_LOSS_KEYS and not str(key).startswith(FROZEN_PREFIX):
                yield from iter_classifier_losses(value, f'{path}.{key}', owner)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from iter_classifier_losses(value, f'{path}.{i}', owner)


def refusal_reason(owner: Optional[str], loss_cfg: dict) -> Optional[str]:
    """Why ASL cannot be the classifier loss ``loss_cfg`` of head ``owner``; None if it can."""
    loss_type = type_name(loss_cfg.get('type'))
    for name in (owner, loss_type):
        if name in REFUSALS:
            return f'{name}: {REFUSALS[name]}'
    if loss_type == 'QualityFocalLoss' and owner not in QUALITY_TARGET_HEADS:
        return (f'{owner} is not known to pass (labels, scores) quality targets to any loss '
                f'(QUALITY_TARGET_HEADS: {", ".join(QUALITY_TARGET_HEADS)}); the DETR family '
                'passes them only to an mmdet QualityFocalLoss instance and integer labels to '
                'AsymmetricLoss, which would silently train on labels instead')
    return None


def is_sigmoid_loss(loss_cfg: dict) -> bool:
    """Whether a loss config scores classes with sigmoids: ``use_sigmoid``, whose default is
    True except for ``CrossEntropyLoss`` (mmdet's defaults)."""
    default_sigmoid = type_name(loss_cfg.get('type')) != 'CrossEntropyLoss'
    return bool(loss_cfg.get('use_sigmoid', default_sigmoid))


def _is_swappable(loss_cfg: dict) -> bool:
    return type_name(loss_cfg.get('type')) in SWAPPABLE_LOSSES and is_sigmoid_loss(loss_cfg)


def score_activation_override(head_type: Any) -> Optional[str]:
    """The method in which head ``head_type`` turns logits into scores itself, or None.

    None means the head scores through ``BaseDenseHead._predict_by_feat_single``, which calls
    ``loss_cls.get_activation`` (RetinaNet, ATSS, FCOS, FSAF, YOLOF, RTMDet, DDOD, ...), so
    ``AsymmetricLoss(score_activation='shifted')`` takes effect. Otherwise the name of the
    overriding method, e.g. ``'GFLHead._predict_by_feat_single'``: that head scores with its own
    activation (a plain sigmoid; TOOD: its probabilities), and the shift does not happen.

    Args:
        head_type: a registered head type name or class. An unknown name raises KeyError.
    """
    from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
    from mmdet.registry import MODELS
    head_class = MODELS.get(head_type) if isinstance(head_type, str) else head_type
    if head_class is None:
        raise KeyError(f'{head_type!r} is not a registered mmdet model type')
    if not issubclass(head_class, BaseDenseHead):  # the DETR family
        return f'{_definer(head_class, "predict_by_feat")}.predict_by_feat'
    for method in ('predict_by_feat', '_predict_by_feat_single'):
        if getattr(head_class, method) is not getattr(BaseDenseHead, method):
            return f'{_definer(head_class, method)}.{method}'
    return None


def _definer(cls: type, method: str) -> str:
    """Name of the class in ``cls``'s MRO that defines ``method`` (``cls`` if none does)."""
    return next((k for k in cls.__mro__ if method in vars(k)), cls).__name__


def swap_in_asl(cfg, **overrides) -> List[str]:
    """Replace every sigmoid classifier loss under ``cfg.model`` by ASL, in place.

    Each ``loss_cls`` / ``initial_loss_cls`` that is a ``FocalLoss``, ``QualityFocalLoss`` or
    sigmoid ``CrossEntropyLoss`` becomes :data:`ASL_LOSS_CFG` with the old loss's
    :data:`CARRIED_KEYS` (``reduction``, ``activated``, ``loss_weight``), updated with
    ``overrides``; focal's ``alpha`` / ``gamma`` and QFL's ``beta`` do not survive. An
    ``AsymmetricLoss`` keeps its arguments, updated with ``overrides``. Integer-label heads
    (RetinaNet, FCOS, ATSS, FSAF, PAA, the DETR family, ...), quality-target heads
    (:data:`QUALITY_TARGET_HEADS`: GFL, TOOD's two losses, RTMDet) and soft-target heads (YOLOX)
    all take it. Softmax losses (a two-stage detector's RoI head, DETR's) and the other losses
    (``loss_bbox``, ``loss_dfl``, ``loss_obj``, ...) are left alone, and so is a distillation
    teacher (:data:`FROZEN_PREFIX`). ``'asl_det'`` is added to ``cfg.custom_imports``, so that
    the config, dumped into a work dir, builds with mmdet's own tools too.

    Args:
        cfg: an mmengine ``Config`` (or dict) with a ``model`` entry.
        **overrides: ``AsymmetricLoss`` arguments, e.g. ``gamma_neg=3, clip=0.1``.

    Returns:
        The dotted paths of the replaced dicts, e.g. ``['model.bbox_head.loss_cls']``.

    Raises (leaving ``cfg`` unchanged):
        ValueError: an override is not an ``AsymmetricLoss`` argument, or a value it refuses;
            ``cfg`` has no ``model``;
            a head or loss in :data:`REFUSALS` (VFNet, YOLOv3, GHM-C, CenterNet's Gaussian
            focal loss; the message gives the reason); or no swappable classifier loss was
            found.
    """
    allowed = asl_parameters()
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f'overrides {unknown} are not AsymmetricLoss arguments; '
                         f'allowed: {allowed}')
    model = cfg.get('model') if hasattr(cfg, 'get') else None
    if not isinstance(model, dict):
        raise ValueError('cfg has no `model` dict to swap the classification loss in')

    targets = []  # (dict holding the loss, key, dotted path); all checked before any is changed
    seen: List[str] = []
    for path, node, key, owner in iter_classifier_losses(model):
        loss_cfg = node[key]
        seen.append(f'{path} ({type_name(loss_cfg.get("type"))} in {owner})')
        reason = refusal_reason(owner, loss_cfg)
        if reason is not None:
            raise ValueError(f'cannot swap AsymmetricLoss into {path}: {reason}')
        if _is_swappable(loss_cfg):
            targets.append((node, key, path))

    if not targets:
        found = ', '.join(seen) if seen else 'no loss_cls at all'
        raise ValueError('found no sigmoid classifier loss to replace (one of '
                         f'{", ".join(SWAPPABLE_LOSSES)}; CrossEntropyLoss only with '
                         f'use_sigmoid=True) under cfg.model: {found}')
    swapped = []
    for node, key, path in targets:
        old = dict(node[key])
        if type_name(old.get('type')) == 'AsymmetricLoss':
            new_cfg = old
        else:
            new_cfg = dict(ASL_LOSS_CFG)
            new_cfg.update({k: old[k] for k in CARRIED_KEYS if k in old})
        new_cfg.update(overrides)
        try:  # a value out of range: said now, before any data is read
            AsymmetricLoss(**{k: v for k, v in new_cfg.items() if k != 'type'})
        except (TypeError, ValueError) as error:
            raise ValueError(f'{path}: {error}') from None
        swapped.append(new_cfg)
    for (node, key, _), new_cfg in zip(targets, swapped):
        node[key] = new_cfg
    add_custom_import(cfg, 'asl_det')  # registers AsymmetricLoss where the config is built
    return [path for _, _, path in targets]
