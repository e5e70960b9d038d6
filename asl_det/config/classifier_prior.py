"""The classifier's initial prior: the ``bias_prob`` a dense head initialises its classification
conv with (mmdet heads default to p = 0.01 through an ``init_cfg`` override, e.g. RetinaHead's
``retina_cls``, FCOSHead's ``conv_cls``, ATSSHead's ``atss_cls``, GFLHead's ``gfl_cls``).

Some heads set that bias in their ``init_weights`` instead, over any ``init_cfg`` (RTMDet, TOOD,
DDOD, the DETR heads: :data:`CLASSIFIER_LAYERS`); their prior is read from the head built and
initialised (:func:`initialised_prior`) and set after initialisation by
:class:`~asl_det.engine.hooks.classifier_prior_hook.ClassifierPriorHook`.
"""
import copy
import inspect
import logging
import math
import numbers
from typing import List, Optional, Union

#: Heads that set their classifier's bias in ``init_weights`` (to p = 0.01 in mmdet 3.3): the
#: attributes holding the layers whose bias is the classifier's prior, by the first class of a
#: head's MRO listed here. TOOD scores with the geometric mean of two sigmoids (its classifier
#: and its probability map), both initialised to the prior.
CLASSIFIER_LAYERS = {
    'RTMDetHead': ('rtm_cls', ),  # a ModuleList in RTMDetSepBNHead and RTMDetInsSepBNHead
    'TOODHead': ('tood_cls', 'cls_prob_module.-1'),
    'DDODHead': ('atss_cls', ),
    'RetinaSepBNHead': ('retina_cls', ),
    'DDQDETRHead': ('cls_branches', 'aux_cls_branches'),
    'DeformableDETRHead': ('cls_branches', ),  # DINO's too
    'DETRHead': ('fc_cls', ),  # Conditional DETR's, DAB-DETR's (with a sigmoid loss)
}

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
    """The head's classifier prior: the ``bias_prob`` of its classifier override (see
    :func:`head_init_cfg`), else, for a head of :data:`CLASSIFIER_LAYERS`, the one its
    ``init_weights`` gives (:func:`initialised_prior`); None when neither tells."""
    overrides = _prior_overrides(copy.deepcopy(head_init_cfg(head_cfg, head)))
    if overrides:
        return float(overrides[0]['bias_prob'])
    return initialised_prior(head_cfg, head)


def layer_paths(head_class) -> Optional[tuple]:
    """The :data:`CLASSIFIER_LAYERS` entry of a head class (by its MRO), None if it has none."""
    for cls in getattr(head_class, '__mro__', ()):
        if cls.__name__ in CLASSIFIER_LAYERS:
            return CLASSIFIER_LAYERS[cls.__name__]
    return None


def classifier_layers(head) -> list:
    """The layers (``nn.Conv2d`` / ``nn.Linear``) whose bias is the classifier prior of the built
    ``head`` (:data:`CLASSIFIER_LAYERS`); ValueError for a head not listed there."""
    from torch import nn
    paths = layer_paths(type(head))
    if paths is None:
        raise ValueError(f'{type(head).__name__} is not among the heads that set their '
                         f'classifier bias in init_weights ({sorted(CLASSIFIER_LAYERS)}); set '
                         "its prior with init_cfg's override bias_prob")
    layers = []
    for path in paths:
        module = head
        for part in path.split('.'):
            module = module[int(part)] if part.lstrip('-').isdigit() else getattr(module, part)
        layers += [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return layers


def initialised_prior(head_cfg: dict, head: str) -> Optional[float]:
    """The probability ``sigmoid(bias)`` the classifier of a :data:`CLASSIFIER_LAYERS` head
    starts at: the head built from ``head_cfg`` and initialised (``init_weights``); None for
    another head or one that needs more than its config section to build."""
    from mmdet.registry import MODELS
    head_class = MODELS.get(head)
    if layer_paths(head_class) is None:
        return None
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights' parameter report is not the user's run
    try:
        built = MODELS.build(dict(head_cfg, type=head_class))
        built.init_weights()
        bias = float(classifier_layers(built)[0].bias.detach().flatten()[0])
    except Exception:  # noqa: BLE001 (a head that needs more than its config section)
        return None
    finally:
        logger.setLevel(level)
    return 1.0 / (1.0 + math.exp(-bias))


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
