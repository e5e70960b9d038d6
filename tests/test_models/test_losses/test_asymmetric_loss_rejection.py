"""Rejection of confident negatives (``reject_above``, ``mirror_weight``): the fast path and the
reference against a closed form written here, exact zeros for ignored negatives and unchanged
elements at or below the threshold, gradcheck away from it, the compiled path, the option off,
validation, and BRL's MirrorFocalLoss."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss

from asl_det.benchmark.loss_speed import compiled_graph_count
from asl_det.models.losses import (
    AsymmetricLoss,
    asymmetric_loss,
    check_asl_params,
    py_asymmetric_loss,
)
from asl_det.models.losses.asl_math.elementwise_ops import EagerOps
from asl_det.models.losses.asl_math.hyper_parameters import AslHyperParameters
from asl_det.models.losses.asl_math.logit_terms import LOGIT_TERMS, logit_negative_term
from asl_det.models.losses.asl_math.negative_rejection import rejected_negative_

N, C = 19, 5
GAMMA_POS, GAMMA_NEG, CLIP, EPS = 1.5, 3.0, 0.05, 1e-8
KINDS = ['labels', 'soft', 'quality']


def sample_probabilities(gen, shape, kinks):
    """Uniform in [0.02, 0.98], at least ``margin`` from each ``(value, margin)`` of ``kinks``
    (where finite differences and the strict threshold are meaningless): resampled until so."""
    def draw():
        return torch.rand(shape, generator=gen, dtype=torch.float64) * 0.96 + 0.02
    p = draw()
    while True:
        bad = torch.zeros(shape, dtype=torch.bool)
        for value, margin in kinks:
            bad |= (p - value).abs() < margin
        if not bad.any():
            return p
        p = torch.where(bad, draw(), p)


def make_inputs(kind, activated, reject_above, seed=0, num_priors=N, dtype=torch.float64):
    """``pred`` (logits, or probabilities with ``activated``) and a target of ``kind``: labels
    with background rows, a dense soft target (zeros, ones and fractions), or (labels,
    scores)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, C + 1, (num_priors,), generator=gen)   # C = background
    labels[:2] = torch.tensor([0, C])
    scores = torch.rand(num_priors, generator=gen, dtype=torch.float64)
    scores[labels == C] = 0.0
    p = sample_probabilities(gen, (num_priors, C), [
        (reject_above, 0.03), (CLIP, 0.005), (scores[:, None], 0.005)])
    pred = p if activated else torch.log(p) - torch.log1p(-p)
    if kind == 'labels':
        target = labels
    elif kind == 'soft':
        u = torch.rand(num_priors, C, generator=gen, dtype=torch.float64)
        target = torch.where(u < 0.6, 0.0, torch.where(u < 0.7, 1.0, u))
    else:
        target = (labels, scores.to(dtype))
    return pred.to(dtype), target


def make_weight(shape, num_priors=N, seed=1):
    gen = torch.Generator().manual_seed(seed)
    element = torch.rand(num_priors, C, generator=gen, dtype=torch.float64) + 0.1
    return dict(prior=element[:, 0].clone(), element=element, flat=element.reshape(-1),
                none=None)[shape]


def closed_form(pred, target, weight=None, *, activated, alpha, reject_above, mirror_weight,
                reduction='none', avg_factor=None):
    """The loss straight from the formula, in numpy float64 (``GAMMA_POS``, ``GAMMA_NEG``,
    ``CLIP``): L+ = -(1-p)^gp log p, Lq = BCE(p, s) |s - p|^gp, L- = -p_m^gn log(1 - p_m); a
    negative with p > t costs -mirror_weight * a_neg * (1-p)^gp log p instead of L-."""
    z = pred.detach().numpy().astype(np.float64)
    if activated:
        p = z
        log_p, log_q = np.log(np.maximum(p, EPS)), np.log(np.maximum(1 - p, EPS))
    else:
        p = 1 / (1 + np.exp(-z))
        log_p, log_q = -np.logaddexp(0, -z), -np.logaddexp(0, z)
    p_m = np.maximum(p - CLIP, 0)
    log_r = np.log(np.maximum(1 - p_m, EPS))
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    positive = -a_pos * (1 - p) ** GAMMA_POS * log_p
    negative = -a_neg * p_m ** GAMMA_NEG * log_r
    if reject_above is not None:
        mirror = -mirror_weight * a_neg * (1 - p) ** GAMMA_POS * log_p
        negative = np.where(p > reject_above, mirror, negative)
    if isinstance(target, tuple):
        labels, scores = target[0].numpy(), target[1].numpy().astype(np.float64)[:, None]
        labelled = labels[:, None] == np.arange(C)
        bce = -(scores * log_p + (1 - scores) * log_q)
        loss = np.where(labelled, a_pos * bce * np.abs(scores - p) ** GAMMA_POS, negative)
    elif target.dim() == 1:
        loss = np.where(target.numpy()[:, None] == np.arange(C), positive, negative)
    else:
        y = target.numpy().astype(np.float64)
        loss = y * positive + (1 - y) * negative
    if weight is not None:
        w = weight.numpy().astype(np.float64)
        loss = loss * (w[:, None] if w.size == len(z) else w.reshape(loss.shape))
    if isinstance(target, tuple):
        loss = loss.sum(axis=1)
    if reduction == 'none':
        return torch.from_numpy(loss)
    if reduction == 'sum':
        return torch.tensor(loss.sum(), dtype=torch.float64)
    # mmdet's weight_reduce_loss divides by avg_factor + float32 eps
    divisor = avg_factor + float(np.finfo(np.float32).eps) if avg_factor else loss.size
    return torch.tensor(loss.sum() / divisor, dtype=torch.float64)


def value_and_grad(fn, pred, *args, upstream_seed=2, **kwargs):
    """``fn(pred, ...)`` and its gradient for a random upstream gradient (ones for
    ``upstream_seed=None``)."""
    x = pred.clone().requires_grad_()
    loss = fn(x, *args, **kwargs)
    upstream = torch.ones_like(loss)
    if upstream_seed is not None:
        gen = torch.Generator().manual_seed(upstream_seed)
        upstream = torch.rand(loss.shape, generator=gen, dtype=torch.float64) + 0.5
    loss.backward(upstream.to(loss.dtype))
    return loss.detach(), x.grad


def negative_mask(target, num_priors=N):
    """Elements that are negatives only: target 0 / not the labelled class of their row."""
    if isinstance(target, tuple) or target.dim() == 1:
        labels = target[0] if isinstance(target, tuple) else target
        return labels[:, None] != torch.arange(C)
    return target == 0


# (reject_above, mirror_weight, alpha): ignore, BRL's mirror with alpha, a half mirror without
REJECTIONS = [(0.5, 0.0, None), (0.5, 1.0, 0.25), (0.3, 0.5, None)]
WEIGHTINGS = [('none', 'none', None), ('prior', 'mean', 7.0), ('element', 'sum', None),
              ('flat', 'mean', None)]


@pytest.mark.parametrize('kind,activated,rejection,detach', list(itertools.product(
    KINDS, [False, True], REJECTIONS, [False, True])))
def test_fast_equals_reference_equals_closed_form(kind, activated, rejection, detach):
    reject_above, mirror_weight, alpha = rejection
    pred, target = make_inputs(kind, activated, reject_above)
    p = pred if activated else pred.sigmoid()
    assert (negative_mask(target) & (p > reject_above)).any()
    for weight_shape, reduction, avg_factor in WEIGHTINGS:
        weight = make_weight(weight_shape)
        kwargs = dict(gamma_pos=GAMMA_POS, gamma_neg=GAMMA_NEG, clip=CLIP, alpha=alpha,
                      reduction=reduction, avg_factor=avg_factor, activated=activated,
                      detach_focal_weight=detach, reject_above=reject_above,
                      mirror_weight=mirror_weight)
        loss, grad = value_and_grad(asymmetric_loss, pred, target, weight, **kwargs)
        ref, ref_grad = value_and_grad(py_asymmetric_loss, pred, target, weight, **kwargs)
        expected = closed_form(pred, target, weight, activated=activated, alpha=alpha,
                               reject_above=reject_above, mirror_weight=mirror_weight,
                               reduction=reduction, avg_factor=avg_factor)
        torch.testing.assert_close(ref, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('activated', [False, True])
def test_module_equals_functional_form(kind, activated):
    pred, target = make_inputs(kind, activated, 0.5, seed=9)
    weight = make_weight('prior')
    kwargs = dict(gamma_pos=GAMMA_POS, gamma_neg=GAMMA_NEG, clip=CLIP, alpha=0.25,
                  activated=activated, reject_above=0.5, mirror_weight=1.0)
    module = AsymmetricLoss(loss_weight=2.0, **kwargs)
    assert (module.reject_above, module.mirror_weight) == (0.5, 1.0)
    loss, grad = value_and_grad(module, pred, target, weight, avg_factor=3.0)
    ref, ref_grad = value_and_grad(lambda x: 2.0 * asymmetric_loss(
        x, target, weight, avg_factor=3.0, **kwargs), pred)
    torch.testing.assert_close(loss, ref, rtol=0, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=0)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('activated', [False, True])
@pytest.mark.parametrize('mirror_weight', [0.0, 1.0])
@pytest.mark.parametrize('fn', [asymmetric_loss, py_asymmetric_loss])
def test_rejected_negatives_and_elements_at_or_below_the_threshold(fn, kind, activated,
                                                                   mirror_weight):
    """mirror_weight 0: a rejected negative costs exactly 0 with a gradient of exactly 0.
    Either way, every element with p <= t (p == t included) is bit-identical to the option
    off: loss (per element; per row for the quality target) and gradient."""
    t = 0.5
    pred, target = make_inputs(kind, activated, t, seed=3)
    pred[2:4] = 0.5 if activated else 0.0                 # p == t exactly: kept
    kwargs = dict(gamma_pos=GAMMA_POS, gamma_neg=GAMMA_NEG, clip=CLIP, activated=activated,
                  reduction='none')
    off, off_grad = value_and_grad(fn, pred, target, **kwargs)
    on, on_grad = value_and_grad(fn, pred, target, reject_above=t, mirror_weight=mirror_weight,
                                 **kwargs)
    p = pred if activated else pred.sigmoid()
    rejected = negative_mask(target) & (p > t)
    kept = p <= t
    assert rejected.any() and (p == t).sum() == 2 * C
    assert torch.equal(on_grad[kept], off_grad[kept])
    if kind == 'quality':                                  # (N,) per-row sums
        rows = kept.all(dim=1)
        assert rows.any() and torch.equal(on[rows], off[rows])
    else:
        assert torch.equal(on[kept], off[kept])
    if mirror_weight == 0:
        assert (on_grad[rejected] == 0).all()
        if kind != 'quality':
            assert (on[rejected] == 0).all()
    else:
        assert (on_grad[rejected] < 0).all()               # pushed up, as a positive


KINDS_AND_INPUTS = list(itertools.product(KINDS, [False, True]))


@pytest.mark.parametrize('kind,activated', KINDS_AND_INPUTS)
@pytest.mark.parametrize('mirror_weight,alpha', [(0.0, None), (1.0, 0.25)])
@pytest.mark.parametrize('fn', [asymmetric_loss, py_asymmetric_loss])
def test_gradcheck_float64_away_from_the_threshold(fn, kind, activated, mirror_weight, alpha):
    """Elementwise ('none') and weighted-mean reductions (the fused sum with the labelled-class
    correction), p at least 0.03 from the threshold."""
    pred, target = make_inputs(kind, activated, 0.4, seed=5, num_priors=7)
    weight = make_weight('prior', num_priors=7)
    kwargs = dict(gamma_pos=GAMMA_POS, gamma_neg=GAMMA_NEG, clip=CLIP, alpha=alpha,
                  activated=activated, reject_above=0.4, mirror_weight=mirror_weight)

    def loss(x):
        return (fn(x, target, reduction='none', **kwargs),
                fn(x, target, weight, reduction='mean', avg_factor=3.0, **kwargs))

    assert torch.autograd.gradcheck(loss, (pred.clone().requires_grad_(),), eps=1e-6,
                                    atol=1e-6)


@pytest.fixture(scope='module')
def fresh_dynamo():
    """As in test_asymmetric_loss_fast_paths.py: lift dynamo's recompile limit, so that no case
    silently runs eagerly."""
    torch._dynamo.reset()
    with torch._dynamo.config.patch(recompile_limit=64):
        yield


# one compiled graph each (5-20 s on 2 cores): the reduced integer-label path with BRL's mirror,
# the quality target ignoring, the soft target with a half mirror
COMPILED_CASES = [('labels', 0.5, 1.0, 0.25, 'prior', 'mean', 7.0),
                  ('quality', 0.5, 0.0, None, 'none', 'none', None),
                  ('soft', 0.3, 0.5, None, 'element', 'none', None)]


@pytest.mark.parametrize('kind,reject_above,mirror_weight,alpha,weight_shape,reduction,avg_factor',
                         COMPILED_CASES)
def test_compiled_equals_eager(fresh_dynamo, kind, reject_above, mirror_weight, alpha,
                               weight_shape, reduction, avg_factor):
    pred, target = make_inputs(kind, False, reject_above, seed=6, dtype=torch.float32,
                               num_priors=200)
    weight = make_weight(weight_shape, num_priors=200)
    weight = None if weight is None else weight.float()
    kwargs = dict(gamma_pos=GAMMA_POS, gamma_neg=4.0, clip=CLIP, alpha=alpha, reduction=reduction,
                  avg_factor=avg_factor, reject_above=reject_above, mirror_weight=mirror_weight)
    graphs = compiled_graph_count()
    loss, grad = value_and_grad(asymmetric_loss, pred, target, weight, compiled=True, **kwargs)
    assert compiled_graph_count() > graphs                 # it compiled (no silent fallback)
    ref, ref_grad = value_and_grad(asymmetric_loss, pred, target, weight, **kwargs)
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)
    if mirror_weight == 0:
        rejected = negative_mask(target, 200) & (pred.sigmoid() > reject_above)
        assert rejected.any() and (grad[rejected] == 0).all()


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('activated', [False, True])
@pytest.mark.parametrize('reduction', ['none', 'mean'])
def test_option_off_is_bit_identical(kind, activated, reduction):
    """Not passed, passed as None / 0.0, and through the module: the same bits (float32)."""
    pred, target = make_inputs(kind, activated, 0.5, seed=7, dtype=torch.float32)
    weight = make_weight('prior').float()
    kwargs = dict(activated=activated, reduction=reduction)
    results = [
        value_and_grad(asymmetric_loss, pred, target, weight, **kwargs),
        value_and_grad(asymmetric_loss, pred, target, weight, reject_above=None,
                       mirror_weight=0.0, **kwargs),
        value_and_grad(AsymmetricLoss(**kwargs), pred, target, weight),
        value_and_grad(AsymmetricLoss(reject_above=None, mirror_weight=0.0, **kwargs), pred,
                       target, weight),
    ]
    for loss, grad in results[1:]:
        assert torch.equal(loss, results[0][0]) and torch.equal(grad, results[0][1])
    ref = value_and_grad(py_asymmetric_loss, pred, target, weight, **kwargs)
    ref_off = value_and_grad(py_asymmetric_loss, pred, target, weight, reject_above=None,
                             **kwargs)
    assert torch.equal(ref[0], ref_off[0]) and torch.equal(ref[1], ref_off[1])


def test_option_off_returns_the_negative_term_itself():
    """The off path is the old one: no work beyond one test (AslHyperParameters built as
    before, as tools/benchmark_loss.py does, defaults to off)."""
    hyper = AslHyperParameters(0.0, 4.0, 0.05, None, False, 1e-8)
    assert hyper.reject_above is None and hyper.mirror_weight == 0.0
    x = torch.randn(4, 3)
    negative = logit_negative_term(x, hyper, True, EagerOps)
    assert rejected_negative_(negative, x, hyper, LOGIT_TERMS, True, EagerOps) is negative


INVALID = [
    (dict(reject_above=0.0), ValueError, r'reject_above must be None \(off\) or in \(0, 1\)'),
    (dict(reject_above=1.0), ValueError, r'reject_above must be None \(off\) or in \(0, 1\)'),
    (dict(reject_above=-0.2), ValueError, r'reject_above .*\(0, 1\), got -0.2'),
    (dict(reject_above=1.5), ValueError, r'reject_above .*\(0, 1\), got 1.5'),
    (dict(reject_above=float('nan')), ValueError, r'reject_above .*\(0, 1\), got nan'),
    (dict(reject_above=float('inf')), ValueError, r'reject_above .*\(0, 1\), got inf'),
    (dict(reject_above='0.5'), TypeError, 'reject_above must be a number'),
    (dict(reject_above=True), TypeError, 'reject_above must be a number'),
    (dict(reject_above=0.5, mirror_weight=-1.0), ValueError,
     r'mirror_weight must be in \[0, inf\), got -1.0'),
    (dict(reject_above=0.5, mirror_weight=float('nan')), ValueError, 'mirror_weight'),
    (dict(reject_above=0.5, mirror_weight=float('inf')), ValueError, 'mirror_weight'),
    (dict(reject_above=0.5, mirror_weight='1'), TypeError, 'mirror_weight'),
    (dict(mirror_weight=1.0), ValueError, r'mirror_weight=1.0 > 0 needs reject_above in \(0, 1\)'),
]


@pytest.mark.parametrize('kwargs,error,match', INVALID)
def test_invalid_rejection_arguments_raise_naming_the_parameter(kwargs, error, match):
    with pytest.raises(error, match=match):
        check_asl_params(0.0, 4.0, 0.05, **kwargs)
    with pytest.raises(error, match=match):
        AsymmetricLoss(**kwargs)
    pred, labels = torch.zeros(2, 3), torch.tensor([0, 3])
    for fn in (asymmetric_loss, py_asymmetric_loss):
        with pytest.raises(error, match=match):
            fn(pred, labels, **kwargs)


def test_valid_rejection_arguments_are_accepted():
    for kwargs in (dict(reject_above=1e-6), dict(reject_above=0.999999, mirror_weight=0),
                   dict(reject_above=0.5, mirror_weight=3)):
        check_asl_params(0.0, 4.0, 0.05, **kwargs)
        AsymmetricLoss(**kwargs)


def test_extra_repr_shows_rejection_when_set():
    assert 'reject_above' not in repr(AsymmetricLoss())
    text = repr(AsymmetricLoss(reject_above=0.5, mirror_weight=1))
    assert 'reject_above=0.5, mirror_weight=1.0' in text


def test_reproduces_brl_mirror_focal_loss():
    """BRL's config (thresh 0.5, beta 1) with focal's gamma 2 and alpha 0.25: a negative costs
    -(1-alpha) p^2 log(1-p) up to the threshold and -beta (1-alpha) (1-p)^2 log(p) above it
    (MirrorFocalLoss); below the threshold that is mmdet's focal loss, as are the positives."""
    alpha, thresh, beta = 0.25, 0.5, 1.0
    logits = torch.linspace(-5, 5, 41, dtype=torch.float64).view(-1, 1).repeat(1, 3)
    labels = torch.tensor([0, 3]).repeat(21)[:41]               # C = 3: half background rows
    module = AsymmetricLoss(gamma_pos=2.0, gamma_neg=2.0, clip=0.0, alpha=alpha,
                            reject_above=thresh, mirror_weight=beta, reduction='none')
    loss, grad = value_and_grad(module, logits, labels, upstream_seed=None)
    x = logits.numpy()
    p = 1 / (1 + np.exp(-x))
    q = 1 - p
    mirror_focal = np.where(p > thresh, -beta * (1 - alpha) * q ** 2 * np.log(p),
                            -(1 - alpha) * p ** 2 * np.log(q))
    mirror_focal_grad = np.where(p > thresh,   # d/dx, with dp/dx = p q
                                 beta * (1 - alpha) * (-q ** 3 + 2 * p * q ** 2 * np.log(p)),
                                 (1 - alpha) * (p ** 3 - 2 * p ** 2 * q * np.log(q)))
    negative = (labels[:, None] != torch.arange(3)).numpy()
    assert (negative & (p > thresh)).any() and (negative & (p <= thresh)).any()
    np.testing.assert_allclose(loss.numpy()[negative], mirror_focal[negative], rtol=1e-12)
    np.testing.assert_allclose(grad.numpy()[negative], mirror_focal_grad[negative],
                               rtol=1e-10, atol=1e-15)
    onehot = F.one_hot(labels, 4)[:, :3].double()
    focal = py_sigmoid_focal_loss(logits, onehot, gamma=2.0, alpha=alpha, reduction='none')
    kept = ~(torch.from_numpy(negative) & (logits.sigmoid() > thresh))
    torch.testing.assert_close(loss[kept], focal[kept], rtol=1e-12, atol=1e-15)
    assert math.isclose(float(loss[~kept].sum()), float(mirror_focal[~kept.numpy()].sum()),
                        rel_tol=1e-12)
