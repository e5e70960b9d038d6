"""asl_det: Asymmetric Loss for MMDetection 3.x single-stage detectors.

Importing the package registers its modules in MMDetection's registries (``MODELS``: the loss;
``HOOKS``: probability statistics and adaptive asymmetry) and lets mmengine load its own
checkpoints on torch >= 2.6 and write them atomically.
"""
from .version import __version__
from . import datasets, engine, models  # noqa: F401  (registration)
from .utils import register_atomic_local_backend, register_trusted_checkpoint_loaders

register_trusted_checkpoint_loaders()
register_atomic_local_backend()

__all__ = ['__version__']
