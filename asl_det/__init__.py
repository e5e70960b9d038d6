"""asl_det: Asymmetric Loss for MMDetection 3.x single-stage detectors.

``import asl_det`` (what ``custom_imports=dict(imports=['asl_det'])`` runs) registers ASL and
nothing else: ``AsymmetricLoss`` in mmdet's ``MODELS`` and its two hooks,
``ProbabilityStatisticsHook`` and ``AdaptiveAsymmetryHook``, in mmdet's ``HOOKS``. It patches
nothing (``torch.load`` and mmengine's checkpoint loaders and file backends stay as they are).

The rule for everything else: a module that registers does so on its own import, and whoever uses
it imports it. The tools opt in to the training modules they need (``tools/train.py``: the safe
checkpoint loader and the ``'atomic_local'`` file backend of :mod:`asl_det.checkpoint`;
:mod:`asl_det.launch.runtime`: ``ChannelsLastHook``, ``MainProcessLoggerHook`` and
``DivergenceGuardOptimWrapper``); a config names the module of each type it uses beside ASL's::

    custom_imports = dict(imports=['asl_det', 'asl_det.engine.hooks.channels_last_hook'])

(the glyph benchmark's data set: ``'asl_det.datasets.glyph_dataset'``).
"""
from . import models  # noqa: F401  (registers AsymmetricLoss)
from .engine import hooks  # noqa: F401  (registers ProbabilityStatisticsHook, AdaptiveAsymmetryHook)
from .version import __version__

__all__ = ['__version__']
