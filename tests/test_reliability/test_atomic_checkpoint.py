"""Checkpoints are written atomically: a failure while saving leaves the old file intact and no
temporary files (the SIGKILL-during-save case with a real training run is in test_resume.py)."""
import errno
import os

import pytest
import torch
from mmengine.fileio import get_file_backend

import asl_det.utils.atomic_file_backend as atomic
from asl_det.utils import AtomicLocalBackend
from asl_det.utils.runtime import checkpoint_is_intact
from reliability_helpers import load_checkpoint, toy_runner


class FailingFile:
    """A file object that writes ``limit`` bytes, then fails like a full disk (or ``error``)."""

    def __init__(self, f, limit, error):
        self._f, self._limit, self._error = f, limit, error

    def write(self, data):
        self._f.write(data[:self._limit])
        raise self._error

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def fail_writes(monkeypatch, error, limit=10):
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, 'fdopen',
                        lambda fd, mode: FailingFile(real_fdopen(fd, mode), limit, error))


def test_local_paths_use_the_atomic_backend(tmp_path):
    assert isinstance(get_file_backend(str(tmp_path)), AtomicLocalBackend)


def test_put_replaces_the_whole_file(tmp_path):
    path = tmp_path / 'sub' / 'iter_2.pth'
    backend = AtomicLocalBackend()
    backend.put(b'old' * 100, path)
    backend.put(b'new', path)
    assert path.read_bytes() == b'new'
    backend.put_text('text', path)
    assert path.read_text() == 'text'
    assert os.listdir(tmp_path / 'sub') == ['iter_2.pth']


@pytest.mark.parametrize('error', [OSError(errno.ENOSPC, 'No space left on device'),
                                   KeyboardInterrupt()])
def test_failed_put_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, error):
    path = tmp_path / 'iter_2.pth'
    AtomicLocalBackend().put(b'complete checkpoint', path)
    fail_writes(monkeypatch, error)
    with pytest.raises(type(error)):
        AtomicLocalBackend().put(b'x' * 1000, path)
    assert path.read_bytes() == b'complete checkpoint'
    assert os.listdir(tmp_path) == ['iter_2.pth']


def test_runner_save_failing_midway_keeps_latest_checkpoint(tmp_path, monkeypatch):
    runner = toy_runner(tmp_path, 2)
    runner.train()
    latest = tmp_path / 'iter_2.pth'
    before = latest.read_bytes()
    fail_writes(monkeypatch, OSError(errno.ENOSPC, 'No space left on device'), limit=100)
    with pytest.raises(OSError, match='No space left'):
        runner.save_checkpoint(str(tmp_path), 'iter_2.pth')  # overwrite it, and fail
    assert latest.read_bytes() == before and checkpoint_is_intact(str(latest))
    assert load_checkpoint(str(latest))['meta']['iter'] == 2
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    monkeypatch.undo()
    runner.save_checkpoint(str(tmp_path), 'iter_2.pth')  # works again once the disk has room
    assert checkpoint_is_intact(str(latest))
    torch.testing.assert_close(load_checkpoint(str(latest))['state_dict']['cls.weight'],
                               runner.model.cls.weight.detach())
