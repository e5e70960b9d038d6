"""Atomic writes for mmengine's local file backend, so a crash never leaves a torn checkpoint.

mmengine writes checkpoints with ``LocalBackend.put`` straight into the final path: a process
killed mid-write leaves a truncated ``iter_N.pth`` that ``--resume`` may pick up. Here every put
goes to a temporary file in the same directory, is flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX), so readers see the old file or the complete new one.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

import mmengine
from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio import io as mmengine_io


def atomic_write(data: Union[bytes, str], filepath: Union[str, Path], encoding: str = 'utf-8'):
    """Write ``data`` to ``filepath`` through a temporary file and an atomic rename."""
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    mmengine.mkdir_or_exist(directory)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f'.{osp.basename(filepath)}.',
                                    suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` and ``put_text`` are atomic."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(obj, filepath, encoding)


def register_atomic_local_backend() -> None:
    """Make ``AtomicLocalBackend`` mmengine's 'local' backend (idempotent)."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del mmengine_io.backend_instances[key]
