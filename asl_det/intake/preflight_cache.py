"""The pre-flight's cache: per data set, keyed on the annotation file's content hash, and valid
while every image file keeps its (relative path, size, mtime_ns, inode, ctime_ns): a file
replaced with one of the same size and modification time (``cp -p``, ``rsync -a``) has another
ctime, so it is checked again.

Layout under the cache folder (default ``~/.cache/asl_det/preflight/``; the environment variable
``ASL_DET_CACHE`` replaces it):
``reports/<key>.json``: a data set's report, its image list and their fingerprint;
``images/<key>.json``: decode results per image folder and decoder, reused for unchanged files
when the annotation file changes; ``filtered/``: annotation files without skipped images;
``locks/``: one lock per data set, so that concurrent ranks decode it once.
"""
import contextlib
import json
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

try:
    import fcntl
except ImportError:  # Windows: no lock; concurrent runs then decode in parallel
    fcntl = None

from .json_files import text_sha256, write_json_atomic

CACHE_VERSION = 1
FileStat = Optional[Tuple[int, int, int, int]]  # (size, mtime_ns, inode, ctime_ns); None: missing


def default_cache_dir() -> str:
    """``$ASL_DET_CACHE``, else ``~/.cache/asl_det/preflight``."""
    return os.environ.get('ASL_DET_CACHE') or osp.join(
        osp.expanduser('~'), '.cache', 'asl_det', 'preflight')


def stat_files(root: str, file_names: Sequence[str]) -> List[FileStat]:
    """(size, mtime_ns, inode, ctime_ns) of ``root/file_name`` for each name; None for a
    missing file."""
    stats = []
    for file_name in file_names:
        try:
            result = os.stat(osp.join(root, file_name))
        except OSError:
            stats.append(None)
        else:
            stats.append((result.st_size, result.st_mtime_ns, result.st_ino,
                          result.st_ctime_ns))
    return stats


def fingerprint(file_names: Sequence[str], stats: Sequence[FileStat]) -> str:
    """One hash of every file's (relative path, :data:`FileStat`)."""
    return text_sha256(CACHE_VERSION, list(zip(file_names, (list(s) if s else s for s in stats))))


def record_path(cache_dir: str, kind: str, key: str) -> str:
    return osp.join(cache_dir, kind, f'{key}.json')


def load_record(path: str) -> Optional[dict]:
    """The cached record at ``path``, or None when absent, unreadable or of another version."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get('version') == CACHE_VERSION else None


def save_record(path: str, record: dict) -> None:
    write_json_atomic(dict(record, version=CACHE_VERSION), path)


@contextlib.contextmanager
def locked(cache_dir: str, key: str) -> Iterator[None]:
    """Hold an exclusive lock on ``key`` (blocks while another process holds it)."""
    lock_dir = osp.join(cache_dir, 'locks')
    os.makedirs(lock_dir, exist_ok=True)
    with open(osp.join(lock_dir, f'{key}.lock'), 'a') as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
