"""The mark a training run keeps in its work dir while it runs, so no one deletes it meanwhile.

``tools/train.py`` holds ``<work_dir>/.running`` for as long as it trains (:func:`hold_work_dir`):
a JSON line with its pid, host and start time, and an exclusive ``fcntl.flock`` on the file. The
lock ends with the process however it ends (a crash, SIGKILL), so a marker left behind is known
to be stale on the host that wrote it. The study asks :func:`work_dir_user` before it clears a
work dir: a run started from ``--print-commands`` on a cluster, or by another study, is skipped
instead of wiped. A marker from another host cannot be tested (its lock lives on that host) and
counts as live until the run removes it, or a person does.
"""
import datetime
import errno
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Optional

#: File name of the marker inside a work dir.
MARKER = '.running'
#: Seconds during which a marker that cannot be read yet counts as a run being started.
STARTING_S = 60.0


class WorkDirBusy(RuntimeError):
    """Another run holds the work dir (the message names it and the marker file)."""


def marker_path(work_dir: str) -> str:
    return osp.join(work_dir, MARKER)


def _try_lock(handle) -> bool:
    """Take an exclusive flock on ``handle`` without waiting; False if another process has it."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def work_dir_user(work_dir: str) -> Optional[str]:
    """Who is training in ``work_dir``: ``'pid P on HOST since T'``, or None if no one.

    None when there is no marker or the marker is stale (written on this host by a process that
    no longer holds its lock). A marker of another host counts as live, and so does one that
    cannot be read yet if it is younger than :data:`STARTING_S` (a run being started).
    """
    path = marker_path(work_dir)
    try:  # writable: on NFS, flock is an fcntl lock, which needs it for LOCK_EX
        handle = open(path, 'r+')
    except FileNotFoundError:
        return None
    with handle:
        try:
            info = json.loads(handle.read() or 'null')
        except ValueError:
            info = None
        if not isinstance(info, dict):
            if time.time() - os.fstat(handle.fileno()).st_mtime < STARTING_S:
                return f'a run being started (marker {path})'
            info = {}
        holder = (f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')} "
                  f'(marker {path})')
        if info.get('host', socket.gethostname()) != socket.gethostname():
            return holder
        if not _try_lock(handle):
            return holder
        return None  # the lock is free: whoever wrote the marker is gone


@contextmanager
def hold_work_dir(work_dir: str) -> Iterator[str]:
    """Mark ``work_dir`` as in use by this process while the block runs; yields the marker path.

    Creates the folder if needed. On the way out (an exception and SystemExit included) the
    marker is removed, and so is the folder if this call created it and it is otherwise empty
    (a run that failed before writing anything leaves nothing behind).

    Raises:
        WorkDirBusy: another live run holds ``work_dir`` (:func:`work_dir_user`).
    """
    created = not osp.isdir(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    path = marker_path(work_dir)
    handle = None
    for _ in range(2):
        try:
            handle = open(path, 'x')
        except FileExistsError:
            user = work_dir_user(work_dir)
            if user is not None:
                raise WorkDirBusy(
                    f'{work_dir} is in use by another training run: {user}. If that run is '
                    f'dead, delete {path}') from None
            try:
                os.remove(path)  # stale: its writer is gone
            except FileNotFoundError:
                pass
            continue
        if not _try_lock(handle):  # someone tests this marker right now: take it anyway
            fcntl.flock(handle, fcntl.LOCK_EX)
        break
    if handle is None:
        raise WorkDirBusy(f'{work_dir}: another run took {path} while this one started')
    with handle:
        handle.write(json.dumps(dict(
            pid=os.getpid(), host=socket.gethostname(), argv=sys.argv,
            started=datetime.datetime.now().isoformat(timespec='seconds'))) + '\n')
        handle.flush()
        try:
            yield path
        finally:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            if created:
                try:
                    os.rmdir(work_dir)  # only if empty
                except OSError:
                    pass
