"""Checkpoints the tools can trust: safe loading, opt-in atomic writes, resume recovery.

- :mod:`.safe_loading`: ``torch.load(weights_only=True)`` with the globals mmengine's checkpoints
  hold; anything else is refused, naming the opt-in for a trusted file.
- :mod:`.loaders`: :func:`use_safe_checkpoint_loader` makes mmengine load through it (the tools
  call it; importing ``asl_det`` does not).
- :mod:`.atomic_backend`: the ``'atomic_local'`` file backend and
  :func:`~.atomic_backend.use_atomic_checkpoint_writes`, which points a config's checkpoint hook
  at it. Not imported here: importing that module registers the backend (``tools/train.py`` does).
- :mod:`.resume`: :func:`find_resumable_checkpoint`, the intact checkpoint ``--resume`` takes.
"""
from .loaders import use_safe_checkpoint_loader
from .resume import checkpoint_is_intact, find_resumable_checkpoint
from .safe_loading import (
    CHECKPOINT_GLOBALS,
    NotACheckpointError,
    UntrustedCheckpointError,
    load_checkpoint_file,
)

__all__ = ['CHECKPOINT_GLOBALS', 'NotACheckpointError', 'UntrustedCheckpointError',
           'checkpoint_is_intact',
           'find_resumable_checkpoint', 'load_checkpoint_file', 'use_safe_checkpoint_loader']
