"""AsymmetricLoss's fast paths: the ``torch.compile`` path against the eager closed form, no
recompiles when N or gamma_neg change, and ``tools/benchmark_loss.py`` in a tiny configuration.

Each compiled flag set costs one graph (10-20 s to build on 2 cores, seconds from inductor's
cache): the cases below are few and shared with the benchmark's defaults.
"""
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from asl_det.models.losses import AsymmetricLoss, asymmetric_loss
from asl_det.utils.benchmark import compiled_graph_count

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
N, C = 45, 7
EXTREMES = [-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4]
GAMMAS = [(0.0, 4.0), (1.0, 0.0), (2.5, 0.5)]  # one graph for all: gammas enter as tensors

# (target kind, detach_focal_weight, clip, alpha): both kinds, both gradient modes, clip 0 and
# > 0, alpha or not, in five graphs; the first two are the benchmark's and the training default.
CASES = [
    ('labels', False, 0.05, None),
    ('labels', True, 0.05, None),
    ('labels', False, 0.0, 0.25),
    ('soft', True, 0.0, None),
    ('soft', False, 0.1, 0.25),
]
DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device'))]


@pytest.fixture(scope='module', autouse=True)
def fresh_dynamo():
    """Count this module's graphs alone (dynamo's per-function recompile limit is 8)."""
    torch._dynamo.reset()
    yield


def make_inputs(kind, device, seed=0, num_priors=N):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(num_priors, C, generator=gen) * 4
    logits[0] = torch.tensor(EXTREMES)  # finite loss and gradient at saturation, compiled too
    labels = torch.randint(0, C + 1, (num_priors,), generator=gen)
    if kind == 'labels':
        target = labels
    else:
        target = torch.rand(num_priors, C, generator=gen) * F.one_hot(labels, C + 1)[:, :C]
    return logits.to(device), target.to(device)


def loss_and_grad(logits, target, compiled, **kwargs):
    x = logits.clone().requires_grad_()
    loss = asymmetric_loss(x, target, reduction='none', compiled=compiled, **kwargs)
    upstream = torch.rand(loss.shape, generator=torch.Generator().manual_seed(1)).to(loss.device)
    loss.backward(upstream)
    return loss.detach(), x.grad


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('kind,detach,clip,alpha', CASES)
def test_compiled_equals_eager(device, kind, detach, clip, alpha):
    logits, target = make_inputs(kind, device)
    graphs = compiled_graph_count()
    for gamma_pos, gamma_neg in GAMMAS:
        kwargs = dict(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, alpha=alpha,
                      detach_focal_weight=detach)
        loss, grad = loss_and_grad(logits, target, compiled=True, **kwargs)
        ref_loss, ref_grad = loss_and_grad(logits, target, compiled=False, **kwargs)
        assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
        torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)
        if clip > 0 and kind == 'labels':  # exact zeros below the margin, compiled too
            below = (logits.sigmoid() < clip) & (target.unsqueeze(1) != torch.arange(
                C, device=device))
            assert (loss[below] == 0).all() and (grad[below] == 0).all()
    assert compiled_graph_count() - graphs <= 1  # at most this case's graph, whatever gamma


def test_no_recompile_when_num_priors_or_gamma_neg_change():
    loss_fn = AsymmetricLoss(compiled=True)  # the training default: labels, clip 0.05, full grad
    eager_fn = AsymmetricLoss()

    def step(module, num_priors, seed=0):
        logits, labels = make_inputs('labels', 'cpu', seed=seed, num_priors=num_priors)
        x = logits.requires_grad_()
        loss = module(x, labels, torch.ones(num_priors), avg_factor=3.0)
        loss.backward()
        return loss.detach(), x.grad

    step(loss_fn, 50)
    graphs = compiled_graph_count()
    assert graphs >= 1  # the compiled path did compile (no silent eager fallback)
    for num_priors in (61, 173, 1000):
        step(loss_fn, num_priors)
    for seed, gamma_neg in enumerate((3.5, 4.25, 0.0, 2.0)):  # as the adaptive hook does
        loss_fn.gamma_neg = eager_fn.gamma_neg = gamma_neg
        compiled_result = step(loss_fn, 100, seed=seed)
        for value, ref in zip(compiled_result, step(eager_fn, 100, seed=seed)):
            torch.testing.assert_close(value, ref, rtol=1e-5, atol=1e-6)
    assert compiled_graph_count() == graphs


def test_benchmark_tool_runs_tiny_configuration():
    command = [sys.executable, osp.join(REPO, 'tools', 'benchmark_loss.py'), '--num-priors',
               '2000', '--num-classes', '8', '--repeats', '2', '--mode', 'loss']
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for row in ('ASL eager, full grad', 'ASL eager, detached grad', 'ASL compiled, full grad',
                'ASL compiled, detached grad', 'FocalLoss (mmdet)', 'BCE-with-logits'):
        assert row in out, out
    assert 'x Focal' in out and 'x BCE' in out and 'peak extra MiB' in out
    assert 'first call' in out and '-> 0 new graph(s)' in out, out
