"""``safe_checkpoint_loading`` installs asl_det's loaders for one block and puts back exactly what
was there (mmengine's, or a tool's opt-in); importing ``asl_det.apis`` changes nothing."""
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader
from tiny_detection import REPO, tool_env

from asl_det.apis import safe_checkpoint_loading
from asl_det.checkpoint import UntrustedCheckpointError, loaders, safe_loading


def loader_state():
    return dict(CheckpointLoader._schemes), safe_loading._trust_by_default


@pytest.fixture
def history_checkpoint(tmp_path):
    """A checkpoint holding a HistoryBuffer, as tools/train.py's do (torch's default
    weights-only load refuses it; asl_det's allowlist takes it)."""
    path = str(tmp_path / 'history.pth')
    torch.save(dict(state_dict={'w': torch.ones(2)}, message_hub=HistoryBuffer([1.0], [1])), path)
    return path


@pytest.mark.usefixtures('mmengine_checkpoint_loading')
def test_block_loads_safely_and_restores_the_loaders(history_checkpoint):
    before = loader_state()
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        CheckpointLoader.load_checkpoint(history_checkpoint)  # mmengine's own loader
    with safe_checkpoint_loading():
        assert CheckpointLoader._get_checkpoint_loader('x.pth') is loaders.load_from_local
        loaded = CheckpointLoader.load_checkpoint(history_checkpoint)
        assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loader_state() == before
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        CheckpointLoader.load_checkpoint(history_checkpoint)


def test_restores_on_error_when_nested_and_after_a_tool_opted_in():
    before = loader_state()
    with pytest.raises(RuntimeError, match='inside'):
        with safe_checkpoint_loading(trust=True):
            assert safe_loading._trust_by_default is True
            with safe_checkpoint_loading(trust=False):
                assert safe_loading._trust_by_default is False
            assert safe_loading._trust_by_default is True
            raise RuntimeError('inside')
    assert loader_state() == before
    try:  # a tool's process-wide opt-in (trust=True) survives a library call's block
        loaders.use_safe_checkpoint_loader(trust=True)
        opted_in = loader_state()
        with safe_checkpoint_loading(trust=False):
            assert safe_loading._trust_by_default is False
        assert loader_state() == opted_in
    finally:
        CheckpointLoader._schemes = type(CheckpointLoader._schemes)(before[0])
        safe_loading.set_trust_by_default(before[1])


def test_trust_must_be_a_bool_and_nothing_changes():
    before = loader_state()
    with pytest.raises(TypeError, match='trust must be True or False'):
        with safe_checkpoint_loading(trust='yes'):
            pass
    assert loader_state() == before


def test_refusal_inside_the_block(tmp_path):
    marker = tmp_path / 'ran'

    class Payload:
        def __reduce__(self):
            import os
            return os.system, (f'touch {marker}',)

    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=dict(note=Payload())), path)
    with safe_checkpoint_loading():
        with pytest.raises(UntrustedCheckpointError, match='posix.system'):
            CheckpointLoader.load_checkpoint(path)
    assert not marker.exists()


def test_importing_asl_det_apis_changes_nothing(history_checkpoint):
    """In a fresh interpreter: mmengine's loaders and torch.load are what they were."""
    probe = f"""
import pickle, torch
from mmengine.runner import CheckpointLoader
schemes = dict(CheckpointLoader._schemes)
load = torch.load
import asl_det.apis
assert dict(CheckpointLoader._schemes) == schemes and torch.load is load
assert all(f.__module__ == 'mmengine.runner.checkpoint' for f in schemes.values())
try:
    CheckpointLoader.load_checkpoint({history_checkpoint!r})
except pickle.UnpicklingError as error:
    assert 'HistoryBuffer' in str(error) and 'asl_det' not in str(error)
else:
    raise AssertionError('importing asl_det.apis changed how mmengine loads checkpoints')
print('untouched')
"""
    result = subprocess.run([sys.executable, '-c', probe], cwd=REPO, env=tool_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and 'untouched' in result.stdout, result.stderr[-3000:]
