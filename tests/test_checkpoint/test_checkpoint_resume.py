"""asl_det.checkpoint.resume: a broken checkpoint is skipped, an unreadable one is an error.

Falling back from an unreadable newest checkpoint (permissions, an I/O error) to an older one
would resume silently with training lost; only files whose bytes are torn or corrupted are
skipped. (Whole runs killed and resumed: tests/test_reliability/test_resume.py.)
"""
import errno
import os.path as osp
import zipfile

import pytest
import torch

from asl_det.checkpoint import resume
from asl_det.checkpoint.resume import checkpoint_is_intact, find_resumable_checkpoint

STATE = dict(state_dict=dict(w=torch.arange(5000.0)), meta=dict(iter=4))


@pytest.fixture
def files(tmp_path):
    """A zip and a legacy checkpoint, and torn and corrupted copies of them."""
    paths = dict(zip=tmp_path / 'zip.pth', legacy=tmp_path / 'legacy.pth')
    torch.save(STATE, paths['zip'])
    torch.save(STATE, paths['legacy'], _use_new_zipfile_serialization=False)
    for kind in ('zip', 'legacy'):
        data = paths[kind].read_bytes()
        for share in (0.0, 0.3, 0.999):
            path = tmp_path / f'{kind}_torn{share}.pth'
            path.write_bytes(data[:int(len(data) * share)])
            paths[f'{kind}_torn{share}'] = path
        flipped = bytearray(data)
        flipped[len(data) // 2 if kind == 'zip' else 10] ^= 0xFF
        paths[f'{kind}_flipped'] = tmp_path / f'{kind}_flipped.pth'
        paths[f'{kind}_flipped'].write_bytes(bytes(flipped))
    return {name: str(path) for name, path in paths.items()}


def test_intact_and_broken_files_are_told_apart(files):
    verdicts = {name: checkpoint_is_intact(path) for name, path in files.items()}
    assert verdicts == {name: name in ('zip', 'legacy') for name in files}


@pytest.mark.parametrize('content', [b'x', b'garbage that is no pickle'])
def test_a_file_that_is_no_checkpoint_is_not_intact(tmp_path, content):
    """(It was taken for a checkpoint needing more than the allowlist, so intact: resume would
    pick it.)"""
    path = tmp_path / 'iter_8.pth'
    path.write_bytes(content)
    assert not checkpoint_is_intact(str(path))


def test_an_io_error_while_reading_is_raised_naming_the_file(files, monkeypatch):
    def failing_testzip(self):
        raise OSError(errno.EIO, 'Input/output error')
    monkeypatch.setattr(zipfile.ZipFile, 'testzip', failing_testzip)
    with pytest.raises(OSError, match=r'Input/output error while reading checkpoint .*zip\.pth'):
        checkpoint_is_intact(files['zip'])


def test_an_unreadable_newest_checkpoint_stops_resume(tmp_path, monkeypatch):
    """Not a fall back to iter_2.pth: the user must see that iter_4.pth cannot be read."""
    for iteration in (2, 4):
        torch.save(STATE, tmp_path / f'iter_{iteration}.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    newest = str(tmp_path / 'iter_4.pth')

    def guarded_open(path, *args, **kwargs):  # as for a file of another user, without root
        if osp.normpath(str(path)) == newest:
            raise PermissionError(errno.EACCES, 'Permission denied', str(path))
        return open(path, *args, **kwargs)
    monkeypatch.setattr(resume, 'open', guarded_open, raising=False)
    with pytest.raises(PermissionError, match='iter_4.pth'):
        find_resumable_checkpoint(str(tmp_path))
    monkeypatch.undo()
    assert find_resumable_checkpoint(str(tmp_path)) == newest
