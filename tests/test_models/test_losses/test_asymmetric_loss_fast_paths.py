"""AsymmetricLoss's fast paths: the ``torch.compile`` path against the eager closed form
(elementwise and with the fused weighting and reductions), the graphs it builds as N and the
gammas change, and ``tools/benchmark_loss.py`` in a tiny configuration.

Each compiled flag set costs one graph (5-20 s to build on 2 cores, seconds from inductor's
cache): the cases below are few and shared with the benchmark's defaults.
"""
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from asl_det.benchmark.loss_speed import compiled_graph_count
from asl_det.models.losses import AsymmetricLoss, asymmetric_loss

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
N, C = 45, 7
EXTREMES = [-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4]
# integral gammas are graph constants (a graph per pair), non-integral ones enter as tensors
GAMMAS = [(0.0, 4.0), (1.0, 0.0), (2.5, 0.5), (1.5, 3.25)]
GRAPHS_FOR_GAMMAS = 3

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
    """Count this module's graphs alone; lift dynamo's per-function recompile limit (8), past
    which it would run the function eagerly and the compiled path would go untested."""
    torch._dynamo.reset()
    with torch._dynamo.config.patch(recompile_limit=64):
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
    assert compiled_graph_count() - graphs <= GRAPHS_FOR_GAMMAS


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('weight_shape', ['prior', 'element', None])
@pytest.mark.parametrize('reduction,avg_factor', [
    ('mean', 7.0), ('mean', None), ('sum', None), ('none', None)])
def test_compiled_weighted_reductions_equal_eager(device, weight_shape, reduction, avg_factor):
    """The weighting and reductions fused into the compiled kernel, value and gradient."""
    logits, labels = make_inputs('labels', device, seed=2)
    gen = torch.Generator().manual_seed(3)
    weight = dict(prior=torch.rand(N, generator=gen),
                  element=torch.rand(N, C, generator=gen)).get(weight_shape)
    weight = None if weight is None else weight.to(device)
    results = []
    for compiled in (True, False):
        x = logits.clone().requires_grad_()
        loss = asymmetric_loss(x, labels, weight, reduction=reduction, avg_factor=avg_factor,
                               compiled=compiled)
        loss.backward(torch.ones_like(loss) * 0.75)
        results.append((loss.detach(), x.grad))
    for value, ref in zip(*results):
        torch.testing.assert_close(value, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('gamma_pos,gamma_neg,reduction', [
    (0.0, 4.0, 'mean'), (2.5, 0.5, 'mean'), (2.5, 0.5, 'none')])
def test_compiled_quality_target_equals_eager(device, gamma_pos, gamma_neg, reduction):
    """(labels, scores) targets as GFL / RTMDet pass them (label weights, avg_factor; and the
    per-prior 'none'), compiled against eager: value, gradient, exact zeros below the margin."""
    logits, labels = make_inputs('labels', device, seed=4)
    gen = torch.Generator().manual_seed(5)
    scores = torch.rand(N, generator=gen).to(device)
    weight = torch.rand(N, generator=gen).to(device)
    avg_factor = 3.0 if reduction == 'mean' else None
    results = []
    for compiled in (True, False):
        x = logits.clone().requires_grad_()
        loss = asymmetric_loss(x, (labels, scores), weight, gamma_pos=gamma_pos,
                               gamma_neg=gamma_neg, clip=0.05, reduction=reduction,
                               avg_factor=avg_factor, compiled=compiled)
        loss.backward(torch.ones_like(loss) * 0.75)
        results.append((loss.detach(), x.grad))
    (loss, grad), (ref_loss, ref_grad) = results
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)
    below = (logits.sigmoid() < 0.05) & (labels.unsqueeze(1) != torch.arange(C, device=device))
    assert below.any() and (grad[below] == 0).all()


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('compiled', [False, True])
@pytest.mark.parametrize('clip,detach', [(0.05, False), (0.05, True), (0.0, False)])
def test_float32_keeps_relative_precision_at_saturation(device, compiled, clip, detach):
    """float32 loss and gradient against float64 (the eager path, itself checked against the
    reference py_asymmetric_loss in test_asymmetric_loss.py), relative to each element, for
    logits from -30 to 30: saturated negatives (p near 1) keep their small derivative
    p * (1 - p)."""
    logits = torch.linspace(-30, 30, 1201).view(-1, 1).repeat(1, 3)
    labels = torch.tensor([0, 3, 3]).repeat(401)[:1201]  # 1/3 positives, 2/3 background
    kwargs = dict(gamma_pos=1.0, gamma_neg=4.0, clip=clip, detach_focal_weight=detach)
    loss, grad = loss_and_grad(logits.to(device), labels.to(device), compiled=compiled, **kwargs)
    ref_loss, ref_grad = loss_and_grad(logits.double(), labels, compiled=False, **kwargs)
    torch.testing.assert_close(loss.cpu(), ref_loss.float(), rtol=2e-5, atol=1e-30)
    torch.testing.assert_close(grad.cpu(), ref_grad.float(), rtol=2e-5, atol=1e-30)


def test_graphs_built_as_num_priors_and_gamma_neg_change():
    """N never recompiles; all non-integral gamma_neg share one graph (the adaptive hook's
    updates), each integral value has its own, built once. Sizes stay above 4096 elements:
    inductor keeps a separate graph for tiny inputs (a guard on N * C), once."""
    loss_fn = AsymmetricLoss(compiled=True)  # the training default: labels, clip 0.05, full grad
    eager_fn = AsymmetricLoss()

    def step(module, num_priors, seed=0):
        logits, labels = make_inputs('labels', 'cpu', seed=seed, num_priors=num_priors)
        x = logits.requires_grad_()
        loss = module(x, labels, torch.ones(num_priors), avg_factor=3.0)
        loss.backward()
        return loss.detach(), x.grad

    def graphs_built(gamma_neg, sizes=(1000,)):
        loss_fn.gamma_neg = eager_fn.gamma_neg = gamma_neg
        graphs = compiled_graph_count()
        for seed, num_priors in enumerate(sizes):
            compiled_result = step(loss_fn, num_priors, seed=seed)
            for value, ref in zip(compiled_result, step(eager_fn, num_priors, seed=seed)):
                torch.testing.assert_close(value, ref, rtol=1e-5, atol=1e-6)
        return compiled_graph_count() - graphs

    step(loss_fn, 600)
    assert compiled_graph_count() >= 1  # the compiled path did compile (no silent fallback)
    assert graphs_built(4.0, sizes=(601, 1733, 4000)) == 0
    assert graphs_built(3.5, sizes=(1000,)) == 1
    for gamma_neg in (4.25, 3.999, 2.0001):
        assert graphs_built(gamma_neg, sizes=(800, 3333)) == 0
    assert graphs_built(2.0) == 1
    assert graphs_built(4.0) == graphs_built(2.0) == graphs_built(3.75) == 0


def test_benchmark_tool_runs_tiny_configuration():
    math_module = osp.join(REPO, 'asl_det', 'models', 'losses', 'asl_math')
    command = [sys.executable, osp.join(REPO, 'tools', 'benchmark_loss.py'), '--num-priors',
               '2000', '--num-classes', '8', '--repeats', '2', '--mode', 'loss',
               '--baseline-math', math_module]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for row in ('ASL eager, full grad', 'ASL eager, detached grad', 'ASL compiled, full grad',
                'ASL compiled, detached grad', 'FocalLoss (mmdet)', 'BCE-with-logits'):
        assert row in out, out
    assert 'x Focal' in out and 'x BCE' in out and 'peak extra MiB' in out
    assert 'first call' in out, out
    assert re.search(r'N in \[[0-9, ]+\]: 0 new graph\(s\)', out), out
    assert re.search(r'gamma_neg in .*: [01], 0, 0 new graph\(s\)', out), out
    assert 'gamma_neg back to 4.0: 0 new graph(s)' in out, out
    # the same module as its own baseline: the rows of both and their ratios (memory 1.000)
    for mode in ('eager, full', 'compiled, full', 'eager, detached'):
        assert f'math current: {mode}' in out and f'math baseline: {mode}' in out, out
        assert re.search(rf'  {mode}: [0-9.]+ / [0-9.]+ / 1\.000', out), out
    assert 'x baseline math' in out, out


def test_benchmark_tool_quality_mode_runs_tiny_configuration():
    command = [sys.executable, osp.join(REPO, 'tools', 'benchmark_loss.py'), '--mode',
               'quality', '--batch', '2', '--priors-per-image', '600', '--num-classes', '8',
               '--repeats', '2']
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert 'N=1200 (600 priors x 2 images)' in out, out
    for row in ('ASL eager, defaults', 'ASL compiled, defaults',
                'ASL eager, QFL setting (2, 2, clip 0)', 'QualityFocalLoss (mmdet)',
                'ASL eager, defaults, probabilities', 'QualityFocalLoss (mmdet), probabilities'):
        assert row in out, out
    assert out.count('x QFL wall/CPU') == 2 and 'peak extra memory / QFL' in out, out
