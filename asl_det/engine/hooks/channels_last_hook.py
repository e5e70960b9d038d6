"""Train and evaluate a detector with its 4-D weights in channels-last (NHWC) memory layout.

Registered on import of this module only (not by ``import asl_det``); a config that uses the hook
names the module: ``custom_imports = dict(imports=['asl_det',
'asl_det.engine.hooks.channels_last_hook'])`` and
``custom_hooks = [dict(type='ChannelsLastHook')]`` (as ``configs/bccd/retinanet_bccd_focal.py``).
"""
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from torch import nn


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store ``model``'s 4-D parameters and buffers channels-last, in place; returns ``model``.

    PyTorch's convolutions return channels-last outputs when their weight is channels-last, so
    the whole backbone, neck and head then run in NHWC without touching the data pipeline; the
    numbers are those of the contiguous model up to floating-point summation order. The
    parameters keep their identity (an optimizer built before still holds them). Idempotent;
    1-D / 2-D tensors are untouched. Speed: README, "Speed of a study run"
    (``tools/benchmark_step.py``).
    """
    return model.to(memory_format=torch.channels_last)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """:func:`to_channels_last` on the runner's model before training, validation and
    testing."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        to_channels_last(runner.model)

    def before_val(self, runner) -> None:
        to_channels_last(runner.model)

    def before_test(self, runner) -> None:
        to_channels_last(runner.model)
