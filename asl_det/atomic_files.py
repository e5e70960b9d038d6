"""Atomic file writes: a reader sees the old file or the complete new one, never a torn one.

The one writer of the package (checkpoints, study records, the intake's JSON files and caches):
the data goes to a temporary file with a unique name in the target's folder, is flushed to disk,
then renamed over the target (``os.replace``, atomic on POSIX). Concurrent writers of one path
never share a temporary file; the last rename wins.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Union


def _file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask (mkstemp's is 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


#: Permissions of the written files, as if written with ``open()`` (read once, at import).
FILE_MODE = _file_mode()


def write_atomic(data: Union[bytes, str], path: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> str:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path`` atomically; returns the path.

    The temporary file is ``.<name>.<random>.tmp`` beside ``path`` (removed if the write
    fails); missing folders are created; the file gets :data:`FILE_MODE`.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp',
                                        dir=folder)
    try:
        with os.fdopen(handle, 'wb') as f:
            os.fchmod(f.fileno(), FILE_MODE)
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def write_json_atomic(obj, path: Union[str, os.PathLike], **dump_options) -> str:
    """Write ``obj`` as JSON to ``path`` with :func:`write_atomic`; ``dump_options`` go to
    ``json.dumps`` (e.g. ``indent``, ``sort_keys``). Returns the path."""
    return write_atomic(json.dumps(obj, **dump_options), path)
