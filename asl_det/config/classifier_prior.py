"""The classifier's initial prior: the ``bias_prob`` a dense head initialises its classification
conv with (mmdet heads default to p = 0.01 through an ``init_cfg`` override, e.g. RetinaHead's
``retina_cls``, FCOSHead's ``conv_cls``, ATSSHead's ``atss_cls``, GFLHead's ``gfl_cls``)."""
import copy
import inspect
import numbers
from typing import List, Optional, Union

#: An ``init_cfg``: one init dict or a list of them.
InitCfg = Union[dict, List[dict]]


def head_init_cfg(head_cfg: dict, head: str) -> Optional[InitCfg]:
    """The ``init_cfg`` that initialises head class ``head`` (a dict or a list of them): the
    config's, else the default it inherits, that of the first class in its MRO whose
    ``__init__`` takes one (PAA's is ATSSHead's: PAAHead passes it on through ``**kwargs``);
    where that default is None, the one the head builds in its ``__init__`` (FSAF,
    GA-RetinaNet, NAS-FCOS: read from the head built from ``head_cfg``). None when there is
    none, or when a class on the way defines ``init_weights``: YOLOF, DDOD, TOOD, AutoAssign,
    RTMDet and the DETR heads set their classifier's bias there, over any ``init_cfg``. An
    unregistered ``head``: the config's."""
    from mmdet.registry import MODELS
    head_class = MODELS.get(head)
    default = None
    for cls in head_class.__mro__ if head_class is not None else ():
        if 'init_weights' in vars(cls):
            return None
        parameter = (inspect.signature(cls.__init__).parameters.get('init_cfg')
                     if '__init__' in vars(cls) else None)
        if parameter is not None:
            default = parameter.default
            break
    init_cfg = head_cfg.get('init_cfg')
    if init_cfg is not None:
        return init_cfg
    if default is None and head_class is not None:
        try:
            built = MODELS.build(dict(head_cfg, type=head_class))
        except Exception:  # a head that needs more than its config section: not known
            return None
        default = copy.deepcopy(built.init_cfg)
    return default


def _prior_overrides(init_cfg: Optional[InitCfg]) -> List[dict]:
    """The classifier's ``bias_prob`` overrides of ``init_cfg``, each as a complete override
    (one that names a layer only takes its arguments from the init dict around it, as mmengine
    reads it: the ones it inherits are written into it). Where several overrides set a
    ``bias_prob``, the classifier's are those whose layer name has ``cls`` (GA-RetinaNet's
    ``conv_loc`` sets one too)."""
    found = []
    for cfg in init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]:
        overrides = cfg.get('override') if isinstance(cfg, dict) else None
        for override in overrides if isinstance(overrides, (list, tuple)) else [overrides]:
            if isinstance(override, dict) and set(override) == {'name'} and 'bias_prob' in cfg:
                override.update({k: v for k, v in cfg.items() if k not in ('override', 'layer')})
            if isinstance(override, dict) and 'bias_prob' in override:
                found.append(override)
    classifiers = [o for o in found if 'cls' in str(o.get('name', ''))]
    return classifiers or found


def classifier_prior(head_cfg: dict, head: str) -> Optional[float]:
    """The ``bias_prob`` of the head's classifier override (see :func:`head_init_cfg`); None
    when it names none (e.g. heads that set their bias inside ``init_weights``)."""
    overrides = _prior_overrides(copy.deepcopy(head_init_cfg(head_cfg, head)))
    return float(overrides[0]['bias_prob']) if overrides else None


def check_prior(prior: float, name: str = 'prior') -> float:
    """Return ``prior`` if it is a classifier prior probability in (0, 1); else ValueError
    (TypeError for a non-number) naming ``name``."""
    if isinstance(prior, bool) or not isinstance(prior, numbers.Real):
        raise TypeError(f'{name} must be a number in (0, 1), got {prior!r}')
    if not 0.0 < prior < 1.0:  # NaN too
        raise ValueError(f'{name} must be in (0, 1), got {prior}')
    return prior


def init_cfg_with_prior(head_cfg: dict, head: str, prior: float) -> InitCfg:
    """A copy of the head's ``init_cfg`` (see :func:`head_init_cfg`) whose classifier override
    initialises to probability ``prior``, in (0, 1); the rest of the initialisation is kept.

    Raises:
        ValueError: ``prior`` out of range, or the head's ``init_cfg`` names no ``bias_prob``
            override to change.
    """
    check_prior(prior)
    init_cfg = copy.deepcopy(head_init_cfg(head_cfg, head))
    overrides = _prior_overrides(init_cfg)
    if not overrides:
        raise ValueError(f'{head}: its init_cfg ({init_cfg}) names no classifier override with '
                         'bias_prob (None: the head sets its classifier bias in init_weights), so '
                         'the prior cannot be set there; give the head an init_cfg with '
                         "override=dict(name=<classifier conv>, bias_prob=...) where it reads one")
    for override in overrides:
        override['bias_prob'] = prior
    return [dict(cfg) for cfg in init_cfg] if isinstance(init_cfg, (list, tuple)) \
        else dict(init_cfg)
