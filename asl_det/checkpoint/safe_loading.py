"""Unpickle checkpoints with ``torch.load(weights_only=True)`` and the few globals mmengine's hold.

A ``.pth`` file is a pickle: loaded with ``weights_only=False`` it can run any code it names. The
weights-only unpickler builds tensors and plain containers only, plus the globals allowed in
:data:`CHECKPOINT_GLOBALS`; a checkpoint that needs anything else is refused with
:class:`UntrustedCheckpointError`, which names what it needs and the opt-in for a trusted file.
Nothing here changes ``torch.load`` itself: the allowlist applies inside
:func:`load_checkpoint_file` only (``torch.serialization.safe_globals``, a scoped context).
Config text that mmengine would run (``meta['config']``, read by ``Runner.resume``) is left out
of an untrusted checkpoint.
"""
import logging
import os
import pickle
from typing import IO, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

#: The methods a pickled ``HistoryBuffer`` refers to: ``getattr(HistoryBuffer, name)``.
HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})

#: How a refused checkpoint can still be loaded, when its source is trusted.
TRUST_OPT_IN = ('if you trust this file, pass --trust-checkpoint to the tool (tools/train.py, '
                'test.py, infer.py, compare.py); in Python, trust=True to asl_det.apis.'
                'init_detector or DetInferencer (elsewhere: asl_det.checkpoint.'
                'use_safe_checkpoint_loader(trust=True)). Either unpickles it fully with '
                'torch.load(weights_only=False)')

#: Whether :func:`load_checkpoint_file` trusts files by default (set by the tools' opt-in).
_trust_by_default = False


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs globals outside :data:`CHECKPOINT_GLOBALS`."""


class NotACheckpointError(pickle.UnpicklingError):
    """A file that is no PyTorch checkpoint: neither torch's zip format nor a pickle."""


#: How a ``torch.save`` file starts: a zip archive (torch >= 1.6), or the legacy format's pickle
#: of its magic number (protocol 2 or above: the PROTO opcode; protocol 1: LONG).
CHECKPOINT_STARTS = (b'PK\x03\x04', b'\x80', b'L')


def check_is_checkpoint(source: Union[str, IO[bytes]], name: str) -> None:
    """Raise :class:`NotACheckpointError` naming ``name`` unless ``source`` (a path, or a
    seekable stream, left where it was) starts as a ``torch.save`` file does."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, 'rb') as f:
            head = f.read(4)
    else:
        position = source.tell()
        head = source.read(4)
        source.seek(position)
    if not head.startswith(CHECKPOINT_STARTS):
        raise NotACheckpointError(
            f'{name} is not a PyTorch checkpoint: it is neither a zip archive (torch.save) nor '
            f'a pickle (torch.save\'s legacy format); it starts with {head!r}')


def history_buffer_statistic(owner, name: str):
    """``getattr`` as mmengine checkpoints use it: one of ``HistoryBuffer``'s statistics methods.

    Stands in for ``builtins.getattr`` while unpickling, so a pickle cannot reach any other
    attribute of anything (a plain ``getattr`` would give it every object's attributes).
    """
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(owner, name)
    raise UntrustedCheckpointError(
        f'getattr({owner!r}, {name!r}) is not allowed: a checkpoint may only call getattr for '
        f'HistoryBuffer.{{{", ".join(sorted(HISTORY_BUFFER_STATISTICS))}}}.')


def _numpy_reconstructors():
    """The functions numpy's own pickles call to rebuild an array and a scalar.

    Read from numpy's pickle protocol (``__reduce__``) rather than imported by name: numpy 2
    keeps them in the private ``numpy._core.multiarray`` (numpy 1: ``numpy.core.multiarray``).
    """
    return np.zeros(0).__reduce__()[0], np.float64(0).__reduce__()[0]


#: Every global that mmengine 0.10.7 checkpoints hold beyond torch's own tensors. Found by
#: loading real checkpoints (torch 2.13, numpy 2.4, mmengine 0.10.7) written by tools/train.py
#: for the tiny RetinaNet of tests/tiny_detection.py: focal loss + SGD; ASL +
#: AdaptiveAsymmetryHook + ProbabilityStatisticsHook + DivergenceGuardOptimWrapper; AdamW; that
#: ASL run resumed with --resume; and configs/demo/retinanet_glyphs_asl_adaptive.py on glyphs,
#: each with validation. torch.serialization.get_unsafe_globals_in_checkpoint listed
#: HistoryBuffer, builtins.getattr, numpy's _reconstruct and scalar, numpy.ndarray and
#: numpy.dtype; loading then asked for the dtype classes Float64DType and Int64DType (built,
#: not named as globals). With this list each loaded equal to its weights_only=False load.
#: Where they come from: the message hub's HistoryBuffers (numpy float64 / int64 histories,
#: statistics methods by getattr) and numpy scalars in its runtime info.
CHECKPOINT_GLOBALS = (
    HistoryBuffer,
    (history_buffer_statistic, 'builtins.getattr'),
    *_numpy_reconstructors(),
    np.ndarray,
    np.dtype,
    type(np.dtype(np.float64)),
    type(np.dtype(np.int64)),
)


def allowed_global_names() -> List[str]:
    """The ``module.name`` of every global in :data:`CHECKPOINT_GLOBALS`, as pickles write them."""
    return sorted(entry[1] if isinstance(entry, tuple) else
                  f'{entry.__module__}.{entry.__qualname__}' for entry in CHECKPOINT_GLOBALS)


def load_checkpoint_file(source: Union[str, IO[bytes]], map_location=None,
                         trust: Optional[bool] = None, name: Optional[str] = None):
    """``torch.load`` of a checkpoint: weights-only with :data:`CHECKPOINT_GLOBALS`, or trusted.

    Args:
        source: a file path or a seekable binary stream.
        map_location: as for ``torch.load``.
        trust: True unpickles everything (``weights_only=False``): only for trusted files.
            None (default): what :func:`set_trust_by_default` last chose (initially False).
        name: how to name ``source`` in an error (default: the path, or ``'checkpoint'``).

    Raises:
        NotACheckpointError: ``source`` is no ``torch.save`` file (trusted or not).
        UntrustedCheckpointError: the checkpoint needs globals outside the allowlist; the
            message names them and the opt-in (:data:`TRUST_OPT_IN`).
    """
    if trust is None:
        trust = _trust_by_default
    if name is None:
        name = source if isinstance(source, str) else 'checkpoint'
    check_is_checkpoint(source, name)
    if trust:
        return torch.load(source, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(list(CHECKPOINT_GLOBALS)):
            checkpoint = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UntrustedCheckpointError(_refusal(name, source, error)) from None
    return _without_code_text(checkpoint, name)


def _without_code_text(checkpoint, name: str):
    """``checkpoint`` without ``meta['config']``, config text that mmengine's ``Runner.resume``
    runs (``Config.fromstring``, to compare GPU counts): from an untrusted file it is code.
    mmengine writes ``meta['cfg']`` instead, which nothing of mmengine's runs on resume."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict) and 'config' in meta:
        checkpoint['meta'] = {key: value for key, value in meta.items() if key != 'config'}
        print_log(f'{name}: its meta[\'config\'] (config text that mmengine\'s Runner.resume '
                  f'would run as Python) is left out: the file is not trusted; {TRUST_OPT_IN}',
                  logger='current', level=logging.WARNING)
    return checkpoint


def set_trust_by_default(trust: bool) -> None:
    """Whether :func:`load_checkpoint_file` trusts files when its ``trust`` is None."""
    global _trust_by_default
    if not isinstance(trust, bool):
        raise TypeError(f'trust must be True or False, got {trust!r}')
    _trust_by_default = trust


def unlisted_globals(source: Union[str, IO[bytes]]) -> List[str]:
    """The globals a zip-format checkpoint names that :data:`CHECKPOINT_GLOBALS` lacks.

    Read without unpickling (``torch.serialization.get_unsafe_globals_in_checkpoint``). Empty
    for torch's legacy (non-zip) format, which it cannot list.
    """
    if hasattr(source, 'seek'):
        source.seek(0)
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(source)
    except (ValueError, RuntimeError):  # legacy format, or not a zip checkpoint: nothing to list
        return []
    return sorted(set(found) - set(allowed_global_names()))


def _refusal(name: str, source, error: pickle.UnpicklingError) -> str:
    """The message of a refused checkpoint: what it needs, the unpickler's reason, the opt-in."""
    needed = unlisted_globals(source)
    # torch.load re-raises the unpickler's error inside a long generic text; its context is the
    # short original (e.g. "Unsupported global: GLOBAL posix.system ...")
    reason = error.__context__ if isinstance(error.__context__, Exception) else error
    what = (f'it needs {", ".join(needed)}, outside asl_det\'s checkpoint allowlist'
            if needed else 'it needs more than asl_det\'s checkpoint allowlist')
    return (f'refused to load {name}: {what}, and unpickling more can run code. Unpickler: '
            f'{str(reason).strip()} Allowed: {", ".join(allowed_global_names())} (getattr for '
            f'HistoryBuffer statistics only). '
            f'{TRUST_OPT_IN[0].upper()}{TRUST_OPT_IN[1:]}.')
