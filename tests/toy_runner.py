"""A toy in-process mmengine Runner (two linear 'heads' with detector loss names): fast tests of
checkpointing, resume and optimizer wrappers without a detector."""
import itertools
import os

import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset


class ToyDetector(BaseModel):
    """Two linear 'heads' with a detector's loss names: ``loss_cls`` from ``cls``, ``loss_bbox``
    from ``reg``."""

    def __init__(self):
        super().__init__()
        self.cls = nn.Linear(2, 1)
        self.reg = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        if mode == 'loss':
            return dict(loss_cls=((self.cls(inputs).squeeze(1) - labels) ** 2).mean(),
                        loss_bbox=((self.reg(inputs).squeeze(1) + labels) ** 2).mean())
        return self.cls(inputs)


class ToyDataset(Dataset):
    metainfo = dict()

    def __len__(self):
        return 16

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(2, generator=g), labels=torch.randn((), generator=g))


_toy_runs = itertools.count()


def toy_runner(work_dir, max_iters, optim_wrapper=None, custom_hooks=(), resume=False,
               load_from=None, ckpt_interval=2):
    """An in-process mmengine ``Runner`` of ``ToyDetector`` (seed 0, SGD with momentum)."""
    torch.manual_seed(0)
    return Runner(
        model=ToyDetector(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyDataset(), batch_size=4,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=optim_wrapper or dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=ckpt_interval, by_epoch=False)),
        custom_hooks=list(custom_hooks),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0),
        default_scope='mmdet',
        log_processor=dict(by_epoch=False, window_size=1),
        experiment_name=f'toy_{next(_toy_runs)}_{os.getpid()}')
