"""Refuse to resume a run with other classification losses than its checkpoint was trained with.

A run trained with ``tools/train.py CONFIG --asl`` and resumed with ``--resume`` but without
``--asl`` would go on with the config's ``FocalLoss``: the weights fit either way (the losses have
no parameters), so nothing else notices. mmengine keeps the training config in each checkpoint
(``meta['cfg']``); :class:`ResumedLossCheckHook`, which ``tools/train.py`` adds on ``--resume``,
compares its classifier losses with the resumed run's when the checkpoint is loaded
(``tools/test.py`` adds it to warn about a checkpoint tested with another loss). The text is
read as data (:func:`~asl_det.config.literal_config.literal_config`), never run: the checkpoint
may not be trusted.
"""
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log


def classifier_losses(cfg) -> Dict[str, dict]:
    """{dotted path: loss config} of every classifier loss of ``cfg.model``
    (:func:`~asl_det.config.asl_swap.iter_classifier_losses`)."""
    from asl_det.config.asl_swap import iter_classifier_losses
    model = cfg.get('model')
    if not isinstance(model, dict):
        return {}
    return {path: Config(dict(node[key])).to_dict()
            for path, node, key, _ in iter_classifier_losses(model)}


def _described(loss: Optional[dict]) -> str:
    """``Type(key=value, ...)``, keys sorted; 'none' for no loss."""
    if loss is None:
        return 'none'
    arguments = ', '.join(f'{key}={value!r}' for key, value in sorted(loss.items())
                          if key != 'type')
    return f'{loss.get("type")}({arguments})'


@HOOKS.register_module()
class ResumedLossCheckHook(Hook):
    """On ``--resume``: raise ``ConfigError`` (a user error: one line from the tools) when the
    checkpoint's config (``meta['cfg']``) names other classifier losses than the run's, naming
    them. ``refuse=False`` (``tools/test.py``) warns instead: a checkpoint tested with another
    loss than it was trained with is scored with that loss's activation (e.g. plain sigmoid for
    an ASL checkpoint trained with ``--asl`` and tested with its focal config). A checkpoint
    without a config readable as data is let through with a warning."""

    priority = 'VERY_HIGH'

    def __init__(self, refuse: bool = True):
        self.refuse = refuse

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from asl_det.config.literal_config import literal_config
        text = (checkpoint.get('meta') or {}).get('cfg')
        if text is None and not self.refuse:  # a model-zoo file: nothing to compare, no news
            return
        try:
            trained = classifier_losses(Config(literal_config(text)))
        except (TypeError, ValueError) as error:  # no text, or text that is not plain data
            print_log(f'ResumedLossCheckHook: the checkpoint holds no config readable as data '
                      f'({error}); its classification losses are not compared',
                      logger='current', level=30)
            return
        current = classifier_losses(runner.cfg)
        if trained == current:
            return
        verb = 'resumed' if self.refuse else 'tested'
        differing = '; '.join(
            f'{path}: trained with {_described(trained.get(path))}, {verb} with '
            f'{_described(current.get(path))}'
            for path in sorted(set(trained) | set(current))
            if trained.get(path) != current.get(path))
        if not self.refuse:
            print_log(f'the checkpoint was trained with other classification losses than this '
                      f'config tests with ({differing}): its scores come from the loss this '
                      'config names. Test with the config it was trained with (the copy in its '
                      'work dir, or the same --asl options)', logger='current', level=30)
            return
        from asl_det.launch.runtime import ConfigError
        raise ConfigError(
            '--resume: the checkpoint was trained with other classification losses than this '
            f'run would go on with ({differing}). Resume with the options it was '
            'trained with (e.g. the same --asl arguments), or with the copy of its config in the '
            'work dir; start afresh to change the loss')
