"""asl_det: Asymmetric Loss for MMDetection 3.x single-stage detectors.

Importing the package registers the plugin and nothing else: in MMDetection's registries the
loss (``MODELS``), the probability-statistics and adaptive-asymmetry hooks (``HOOKS``) and the
divergence-guard optimizer wrapper (``OPTIM_WRAPPERS``); in mmengine's file backends the opt-in
``'atomic_local'`` backend (a new name: ``'local'`` is untouched). ``torch.load`` and mmengine's
checkpoint loaders stay as they are; the tools install the safe checkpoint loader
(:func:`asl_det.checkpoint.use_safe_checkpoint_loader`). The glyph benchmark is not imported:
its data set registers through the configs that use it
(``custom_imports = dict(imports=['asl_det', 'asl_det.datasets.glyph_dataset'])``).
"""
from . import checkpoint, engine, models  # noqa: F401  (registration)
from .version import __version__

__all__ = ['__version__']
