"""mmengine checkpoints save and resume on torch >= 2.6 (weights_only=True by default)."""
import os.path as osp

import pytest
import torch

import asl_det  # noqa: F401  (installs the trusted loaders)
from toy_runner import toy_runner


def test_stock_torch_load_refuses_mmengine_checkpoints(tmp_path):
    if tuple(int(v) for v in torch.__version__.split('.')[:2]) < (2, 6):
        pytest.skip('torch < 2.6 loads full pickles by default')
    toy_runner(tmp_path, 2).train()
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(osp.join(tmp_path, 'iter_2.pth'))


def test_resume_continues_like_an_uninterrupted_run(tmp_path):
    toy_runner(tmp_path / 'a', 2).train()
    resumed = toy_runner(tmp_path / 'a', 4, resume=True)
    resumed.train()
    uninterrupted = toy_runner(tmp_path / 'b', 4)
    uninterrupted.train()
    assert resumed.iter == uninterrupted.iter == 4
    expected = uninterrupted.model.state_dict()
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[key])
