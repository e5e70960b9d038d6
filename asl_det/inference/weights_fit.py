"""Refuse weights that do not fit the model the config builds, before any image is processed.

mmengine's ``load_checkpoint`` (what ``DetInferencer`` and ``init_detector`` call) loads with
``strict=False``: a parameter of another shape, e.g. the classifier of a checkpoint trained for
another number of classes, is only logged and keeps its random initial values, and prediction
goes on with it. :func:`check_weights_fit` turns that into an error naming the parameters and
the class counts; :class:`CheckedDetInferencer` runs it on the checkpoint ``DetInferencer`` has
just read, before the weights go into the model (the file is read once).
"""
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch.nn as nn

from asl_det.apis import DetInferencer

from .inputs import InferenceSetupError

#: mmengine's ``load_checkpoint`` default ``revise_keys``: a DataParallel prefix is dropped.
MODULE_PREFIX = re.compile(r'^module\.')


def state_dict_of(checkpoint: Mapping) -> Dict:
    """The weights of a loaded checkpoint, as mmengine reads them (``state_dict``, else the
    whole dict), with the ``module.`` prefix dropped."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    return {MODULE_PREFIX.sub('', key): value for key, value in state_dict.items()}


def _held_outside_state(model: nn.Module, key: str) -> bool:
    """Whether the model has ``key`` though not in its state dict: a non-persistent buffer
    such as ``data_preprocessor.mean`` / ``.std``, which mmdet 3.x's model-zoo checkpoints
    still carry (mmengine skips them when loading)."""
    module_name, _, name = key.rpartition('.')
    try:
        module = model.get_submodule(module_name) if module_name else model
    except AttributeError:
        return False
    return hasattr(module, name)


def num_classes_settings(cfg_model: Mapping, prefix: str = 'model') -> List[Tuple[str, object]]:
    """Every ``(dotted key, value)`` of ``num_classes`` in a model config."""
    found = []
    for key, value in cfg_model.items():
        path = f'{prefix}.{key}'
        if key == 'num_classes':
            found.append((path, value))
        elif isinstance(value, Mapping):
            found += num_classes_settings(value, path)
    return found


def check_weights_fit(model: nn.Module, checkpoint: Mapping, cfg: Optional[Mapping] = None,
                      config_name: str = 'CONFIG', weights_name: str = '--weights') -> None:
    """Raise unless the parameters and buffers of ``model`` are those of ``checkpoint``, with
    their shapes: none missing, none the model has not (mmengine would load the rest and leave
    them; a non-persistent buffer of the model, e.g. the data preprocessor's mean, is fine).

    Args:
        model: the built detector.
        checkpoint: the loaded checkpoint dict.
        cfg: the config ``model`` was built from (for its ``num_classes`` keys in the message).
        config_name, weights_name: how the message names the two.

    Raises:
        InferenceSetupError: shapes differ (the message gives each parameter's two shapes, the
            config's ``num_classes`` and the class names the checkpoint was trained with), the
            checkpoint lacks parameters of the model, or it has parameters the model has not
            (e.g. a head with more convs).
    """
    weights = state_dict_of(checkpoint)
    expected = model.state_dict()
    mismatched = [(key, tuple(weights[key].shape), tuple(value.shape))
                  for key, value in expected.items()
                  if key in weights and hasattr(weights[key], 'shape')
                  and tuple(weights[key].shape) != tuple(value.shape)]
    missing = [key for key in expected if key not in weights]
    unexpected = [key for key in weights if key not in expected and not _held_outside_state(
        model, key)]
    if mismatched:
        shapes = '; '.join(f'{key}: {weights_name} {list(saved)}, {config_name} {list(built)}'
                           for key, saved, built in mismatched[:4])
        more = f' and {len(mismatched) - 4} more' if len(mismatched) > 4 else ''
        settings = num_classes_settings(cfg['model']) if cfg and 'model' in cfg else []
        setting = ', '.join(f'{key} = {value}' for key, value in settings)
        classes = ((checkpoint.get('meta') or {}).get('dataset_meta') or {}).get('classes')
        trained = (f'{weights_name} was trained for {len(classes)} classes '
                   f'({", ".join(map(str, classes))})' if classes else
                   f'{weights_name} does not record its classes')
        raise InferenceSetupError(
            f'{config_name} and {weights_name} do not describe the same model: {trained}; '
            f'{config_name} sets {setting or "no num_classes"}. Parameters of another shape: '
            f'{shapes}{more}. Pass the config the checkpoint was trained with (its work dir '
            'holds a copy), or set num_classes to match.')
    if missing:
        more = f' and {len(missing) - 4} more' if len(missing) > 4 else ''
        raise InferenceSetupError(
            f'{weights_name} lacks {len(missing)} parameters of the model {config_name} builds '
            f'({", ".join(missing[:4])}{more}): pass the config it was trained with')
    if unexpected:
        more = f' and {len(unexpected) - 4} more' if len(unexpected) > 4 else ''
        raise InferenceSetupError(
            f'{weights_name} has {len(unexpected)} parameters the model {config_name} builds has '
            f'not ({", ".join(unexpected[:4])}{more}): pass the config it was trained with')


class CheckedDetInferencer(DetInferencer):
    """:class:`asl_det.apis.DetInferencer` that refuses weights not fitting its config.

    Same arguments, plus ``config_name`` and ``weights_name``: how the error names the two
    (e.g. the command-line arguments). Raises :class:`InferenceSetupError` from the
    constructor, before the weights are loaded into the model.
    """

    def __init__(self, *args, config_name: str = 'the config',
                 weights_name: str = 'the checkpoint', **kwargs):
        self._names = (config_name, weights_name)
        super().__init__(*args, **kwargs)

    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        if checkpoint is not None:
            check_weights_fit(model, checkpoint, cfg, *self._names)
        super()._load_weights_to_model(model, checkpoint, cfg)
