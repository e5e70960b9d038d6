"""asl_det's safe checkpoint loader for the duration of one ``with`` block, then mmengine's again.

:func:`asl_det.checkpoint.use_safe_checkpoint_loader` replaces mmengine's loaders for the whole
process: right for a tool, wrong for a library call. :func:`safe_checkpoint_loading` installs
the same loaders (and the same ``trust`` choice) on entry and puts back, on exit, exactly what
was there before: mmengine's own loaders, or a tool's if a tool had opted in.
Not thread-safe: another thread that loads a checkpoint inside the block loads it safely too.
"""
from contextlib import contextmanager
from typing import Iterator

from mmengine.runner import CheckpointLoader

from asl_det.checkpoint import safe_loading, use_safe_checkpoint_loader


@contextmanager
def safe_checkpoint_loading(trust: bool = False) -> Iterator[None]:
    """Inside the block, mmengine loads checkpoints with asl_det's safe loader.

    Args:
        trust: False (default): weights only plus the globals mmengine checkpoints hold; a
            checkpoint needing more is refused with
            :class:`~asl_det.checkpoint.UntrustedCheckpointError` and nothing in it runs.
            True: full unpickling (``weights_only=False``), for files you trust.
    """
    # mmengine keeps its loaders in a class attribute (prefix -> loader) and asl_det's loaders
    # read the trust choice from a module default: both are kept and put back (neither has a
    # public getter). A non-bool ``trust`` raises TypeError before anything changes.
    schemes = CheckpointLoader._schemes.copy()
    trust_before = safe_loading._trust_by_default
    use_safe_checkpoint_loader(trust=trust)
    try:
        yield
    finally:
        CheckpointLoader._schemes = schemes
        safe_loading.set_trust_by_default(trust_before)
