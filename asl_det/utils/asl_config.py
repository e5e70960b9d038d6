"""Swap the classification loss of any mmdet detector config for the Asymmetric Loss.

``tools/train.py --asl [key=value ...]`` calls :func:`swap_in_asl` on the loaded config, so a
stock config such as ``mmdet::fsaf/fsaf_r50_fpn_1x_coco.py`` trains with ASL without writing a new
config file.
"""
import inspect
from typing import Any, Iterator, List, Optional, Tuple

from asl_det.models.losses import AsymmetricLoss

#: The ``loss_cls`` that :func:`swap_in_asl` writes; ``**overrides`` update it.
ASL_DEFAULTS = dict(type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0,
                    clip=0.05, loss_weight=1.0)

#: Sigmoid losses called with integer labels (N,): ASL is a drop-in for them.
#: ``CrossEntropyLoss`` only counts with ``use_sigmoid=True`` (softmax heads grow a background
#: channel and would change meaning).
INTEGER_LABEL_SIGMOID_LOSSES = ('FocalLoss', 'CrossEntropyLoss', 'AsymmetricLoss')

#: Losses fed soft or (label, score) targets: GFL, TOOD, VFNet, RTMDet, LD and friends.
SOFT_TARGET_LOSSES = ('QualityFocalLoss', 'QualityFocalLossWithSoftmax', 'VarifocalLoss',
                      'DistributionFocalLoss')
#: Heads whose ``loss_cls`` receives soft or (label, score) targets whatever its type is set
#: to (TOOD: (label, alignment metric) after its ``initial_epoch``).
SOFT_TARGET_HEADS = ('GFLHead', 'LDHead', 'TOODHead', 'VFNetHead', 'RTMDetHead',
                     'RTMDetSepBNHead', 'RTMDetInsHead', 'RTMDetInsSepBNHead', 'DDQDETRHead')

#: Keys of the original ``loss_cls`` kept in the swap: they are the head's calling contract
#: (FSAF reduces the elementwise loss itself with ``reduction='none'``; ``activated`` heads pass
#: probabilities), not loss hyper-parameters.
CONTRACT_KEYS = ('reduction', 'activated')


def asl_parameters() -> List[str]:
    """Names accepted by ``AsymmetricLoss(...)`` (and so by ``swap_in_asl(**overrides)``)."""
    params = inspect.signature(AsymmetricLoss.__init__).parameters
    return [name for name in params if name != 'self']


def _type_name(value: Any) -> Optional[str]:
    """The ``type`` of a config dict as a string (class objects give their name)."""
    if value is None:
        return None
    return value if isinstance(value, str) else getattr(value, '__name__', str(value))


def iter_loss_cls(node: Any, path: str = 'model',
                  owner: Optional[str] = None) -> Iterator[Tuple[str, dict, Optional[str]]]:
    """(dotted path of each dict-valued ``loss_cls``, the dict holding it, type of its owner).

    The owner is the nearest enclosing dict with a ``type`` (the head), e.g.
    ``('model.bbox_head.loss_cls', cfg.model.bbox_head, 'RetinaHead')``.
    """
    if isinstance(node, dict):
        owner = _type_name(node.get('type')) or owner
        if isinstance(node.get('loss_cls'), dict):
            yield f'{path}.loss_cls', node, owner
        for key, value in node.items():
            if key != 'loss_cls':
                yield from iter_loss_cls(value, f'{path}.{key}', owner)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from iter_loss_cls(value, f'{path}.{i}', owner)


def _is_swappable(loss_cfg: dict) -> bool:
    loss_type = _type_name(loss_cfg.get('type'))
    if loss_type not in INTEGER_LABEL_SIGMOID_LOSSES:
        return False
    default_sigmoid = loss_type != 'CrossEntropyLoss'
    return bool(loss_cfg.get('use_sigmoid', default_sigmoid))


def swap_in_asl(cfg, **overrides) -> List[str]:
    """Replace every sigmoid, integer-label ``loss_cls`` under ``cfg.model`` by ASL, in place.

    Each such ``loss_cls`` (FocalLoss, ``CrossEntropyLoss(use_sigmoid=True)``, an existing
    AsymmetricLoss) becomes ``ASL_DEFAULTS`` updated with ``overrides``; the whole dict is
    replaced, so focal's ``alpha`` / ``gamma`` do not survive. Only the head's calling-contract
    keys ``reduction`` and ``activated`` are carried over. Softmax ``loss_cls`` (e.g. a
    two-stage detector's RoI head) are left alone.

    Args:
        cfg: an mmengine ``Config`` (or dict) with a ``model`` entry.
        **overrides: ``AsymmetricLoss`` arguments, e.g. ``gamma_neg=3, clip=0.1``.

    Returns:
        The dotted paths of the replaced dicts, e.g. ``['model.bbox_head.loss_cls']``.

    Raises (leaving ``cfg`` unchanged):
        ValueError: an override is not an ``AsymmetricLoss`` argument; ``cfg`` has no ``model``;
            a head feeds its ``loss_cls`` soft or (label, score) targets (GFLHead, TOODHead,
            VFNetHead, RTMDetHead, ...: the message names the head); or no sigmoid
            integer-label ``loss_cls`` was found.
    """
    allowed = asl_parameters()
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f'overrides {unknown} are not AsymmetricLoss arguments; '
                         f'allowed: {allowed}')
    model = cfg.get('model') if hasattr(cfg, 'get') else None
    if not isinstance(model, dict):
        raise ValueError('cfg has no `model` dict to swap the classification loss in')

    targets = []  # (dict holding loss_cls, dotted path); all checked before any is changed
    seen: List[str] = []
    for path, node, owner in iter_loss_cls(model):
        loss_cfg = node['loss_cls']
        loss_type = _type_name(loss_cfg.get('type'))
        seen.append(f'{path} ({loss_type} in {owner})')
        if owner in SOFT_TARGET_HEADS or loss_type in SOFT_TARGET_LOSSES:
            raise ValueError(
                f'{owner} at {path[:-len(".loss_cls")]} trains its classifier ({loss_type}) on '
                'soft or (label, score) targets; AsymmetricLoss takes integer labels there, so '
                f'it cannot replace loss_cls of {owner}')
        if _is_swappable(loss_cfg):
            targets.append((node, path))

    if not targets:
        found = ', '.join(seen) if seen else 'no loss_cls at all'
        raise ValueError('found no sigmoid loss_cls taking integer labels (FocalLoss, sigmoid '
                         f'CrossEntropyLoss, AsymmetricLoss) under cfg.model: {found}')
    for node, _ in targets:
        new_cfg = dict(ASL_DEFAULTS)
        new_cfg.update({k: node['loss_cls'][k] for k in CONTRACT_KEYS if k in node['loss_cls']})
        new_cfg.update(overrides)
        node['loss_cls'] = new_cfg
    return [path for _, path in targets]
