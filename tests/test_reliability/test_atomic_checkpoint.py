"""Checkpoints written through the opt-in 'atomic_local' backend are atomic: a failure while
saving leaves the old file intact and no temporary files (the SIGKILL-during-save case with a
real training run of tools/train.py is in test_resume.py)."""
import errno
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.fileio import LocalBackend, get_file_backend
from reliability_helpers import load_checkpoint, toy_runner
from tiny_detection import REPO

import asl_det.atomic_files as atomic_files
from asl_det.checkpoint import checkpoint_is_intact
from asl_det.checkpoint.atomic_backend import (
    ATOMIC_LOCAL_BACKEND,
    AtomicLocalBackend,
    use_atomic_checkpoint_writes,
)
from asl_det.launch.runtime import load_config

ATOMIC = dict(backend=ATOMIC_LOCAL_BACKEND)


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
    monkeypatch.setattr(atomic_files.os, 'fdopen',
                        lambda fd, mode: FailingFile(real_fdopen(fd, mode), limit, error))


def test_atomic_backend_is_opt_in_by_name(tmp_path):
    assert isinstance(get_file_backend(str(tmp_path), backend_args=ATOMIC), AtomicLocalBackend)
    assert type(get_file_backend(str(tmp_path))) is LocalBackend  # mmengine's 'local' untouched


@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(REPO, 'configs', '[!_]*.py'))
    + glob.glob(osp.join(REPO, 'configs', 'demo', '*.py'))), ids=osp.basename)
def test_train_tool_points_project_configs_at_the_atomic_backend(config):
    cfg = load_config(config)
    assert use_atomic_checkpoint_writes(cfg) is True
    assert cfg.default_hooks.checkpoint.backend_args == ATOMIC
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'  # the rest kept
    assert 'asl_det.checkpoint.atomic_backend' in cfg.custom_imports.imports
    assert use_atomic_checkpoint_writes(cfg) is False  # a chosen backend is left alone


@pytest.mark.parametrize('hook', [
    dict(type='CheckpointHook', backend_args=dict(backend='local')),
    dict(type='CheckpointHook', file_client_args=dict(backend='disk')),
    dict(type='CheckpointHook', out_dir='s3://bucket/work_dirs'),
    None,
])
def test_atomic_writes_leave_a_chosen_backend_alone(hook):
    from mmengine.config import Config
    cfg = Config(dict(work_dir='work_dirs/x', default_hooks=dict(checkpoint=hook)))
    before = cfg.to_dict()
    assert use_atomic_checkpoint_writes(cfg) is False
    assert cfg.to_dict() == before


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
    with pytest.raises(OSError, match='No space left'):  # overwrite it, and fail
        runner.save_checkpoint(str(tmp_path), 'iter_2.pth', backend_args=ATOMIC)
    assert latest.read_bytes() == before and checkpoint_is_intact(str(latest))
    assert load_checkpoint(str(latest))['meta']['iter'] == 2
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    monkeypatch.undo()
    # works again once the disk has room
    runner.save_checkpoint(str(tmp_path), 'iter_2.pth', backend_args=ATOMIC)
    assert checkpoint_is_intact(str(latest))
    torch.testing.assert_close(load_checkpoint(str(latest))['state_dict']['cls.weight'],
                               runner.model.cls.weight.detach())
