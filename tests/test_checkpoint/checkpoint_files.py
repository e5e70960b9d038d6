"""Checkpoint files for the safe-loading tests: ones whose unpickling would run code (and leave a
marker file if it did), a trusted one outside the allowlist, and a deep comparison."""
import builtins
import os

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer


class SystemCall:
    """Unpickles as ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class Exec:
    """Unpickles as ``exec(source)``."""

    def __init__(self, source):
        self.source = source

    def __reduce__(self):
        return builtins.exec, (self.source,)


def payload(kind, marker):
    """An object whose unpickling creates ``marker``: ``kind`` 'system' or 'exec'."""
    if kind == 'system':
        return SystemCall(f'touch {marker}')
    return Exec(f'open({str(marker)!r}, "w").close()')


def write_malicious_checkpoint(path, marker, kind='system', legacy=False, base=None):
    """``base`` (a checkpoint dict; default a minimal one) with the payload in its ``meta``,
    saved in torch's zip format or, with ``legacy``, its pre-1.6 format. Returns ``path``."""
    checkpoint = dict(base or dict(state_dict={}, meta={}))
    checkpoint['meta'] = dict(checkpoint.get('meta', {}), note=payload(kind, marker))
    torch.save(checkpoint, str(path), _use_new_zipfile_serialization=not legacy)
    return str(path)


def write_trusted_legacy_checkpoint(path, base):
    """``base`` with a ``ConfigDict`` in its meta (a global outside the allowlist, harmless),
    saved in torch's legacy format: a file only ``--trust-checkpoint`` loads. Returns ``path``."""
    checkpoint = dict(base)
    checkpoint['meta'] = dict(base.get('meta', {}), cfg=ConfigDict(lr=0.01, note='trusted'))
    torch.save(checkpoint, str(path), _use_new_zipfile_serialization=False)
    return str(path)


def assert_same_content(actual, expected, path='checkpoint'):
    """Equal types and values throughout: tensors, arrays, containers, HistoryBuffers."""
    assert type(actual) is type(expected), f'{path}: {type(actual)} != {type(expected)}'
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype and torch.equal(actual, expected), path
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and np.array_equal(actual, expected), path
    elif isinstance(expected, dict):
        assert actual.keys() == expected.keys(), path
        for key in expected:
            assert_same_content(actual[key], expected[key], f'{path}.{key}')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same_content(a, e, f'{path}[{index}]')
    elif isinstance(expected, HistoryBuffer):
        assert_same_content(vars(actual), vars(expected), f'{path}.__dict__')
    else:
        assert actual == expected, f'{path}: {actual!r} != {expected!r}'
