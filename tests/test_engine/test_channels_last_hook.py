"""ChannelsLastHook: NHWC weights, same parameters, same numbers as the contiguous model."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import HOOKS
from torch import nn

from asl_det.engine.hooks.channels_last_hook import ChannelsLastHook


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(4, 8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def is_channels_last(tensor):
    return tensor.is_contiguous(memory_format=torch.channels_last) and not tensor.is_contiguous()


@pytest.mark.parametrize('stage', ['before_run', 'before_val', 'before_test'])
def test_every_stage_stores_4d_weights_channels_last_and_keeps_the_parameters(stage):
    net = small_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    params = list(net.parameters())
    getattr(ChannelsLastHook(), stage)(SimpleNamespace(model=net))
    assert all(is_channels_last(p) for p in params if p.dim() == 4)
    assert all(p.is_contiguous() for p in params if p.dim() < 4)
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert optimizer.param_groups[0]['params'][0] is net[0].weight


def test_outputs_and_gradients_match_the_contiguous_model():
    reference, converted = small_net(), small_net()
    ChannelsLastHook().before_run(SimpleNamespace(model=converted))
    images = torch.randn(4, 3, 32, 24, generator=torch.Generator().manual_seed(1))
    outputs = []
    for net in (reference, converted):
        out = net(images.clone())
        out.square().sum().backward()
        outputs.append(out)
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)
    for p_ref, p_new in zip(reference.parameters(), converted.parameters()):
        torch.testing.assert_close(p_new.grad, p_ref.grad, rtol=1e-4, atol=1e-6)


def test_a_second_call_changes_nothing():
    net = small_net()
    hook, runner = ChannelsLastHook(), SimpleNamespace(model=net)
    hook.before_run(runner)
    state = copy.deepcopy(net.state_dict())
    hook.before_val(runner)
    for key, value in net.state_dict().items():
        assert value.stride() == state[key].stride() and torch.equal(value, state[key]), key


def test_registered_under_its_name():
    assert isinstance(HOOKS.build(dict(type='ChannelsLastHook')), ChannelsLastHook)
