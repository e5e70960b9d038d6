"""mmengine checkpoints save and resume on torch >= 2.6 (weights_only=True by default)."""
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import asl_det  # noqa: F401  (installs the trusted loaders)


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - labels) ** 2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict()

    def __len__(self):
        return 16

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(2, generator=g), labels=torch.randn((), generator=g))


def make_runner(work_dir, max_iters, resume=False):
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='DefaultSampler'),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmengine',
        experiment_name=f'toy_{max_iters}_{resume}')


def test_stock_torch_load_refuses_mmengine_checkpoints(tmp_path):
    if tuple(int(v) for v in torch.__version__.split('.')[:2]) < (2, 6):
        pytest.skip('torch < 2.6 loads full pickles by default')
    make_runner(tmp_path, 2).train()
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(osp.join(tmp_path, 'iter_2.pth'))


def test_resume_continues_like_an_uninterrupted_run(tmp_path):
    make_runner(tmp_path / 'a', 2).train()
    resumed = make_runner(tmp_path / 'a', 4, resume=True)
    resumed.train()
    uninterrupted = make_runner(tmp_path / 'b', 4)
    uninterrupted.train()
    assert resumed.iter == uninterrupted.iter == 4
    expected = uninterrupted.model.state_dict()
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[key])
