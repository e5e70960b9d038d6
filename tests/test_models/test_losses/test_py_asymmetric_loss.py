"""py_asymmetric_loss, the reference the fast path is tested against, checked on its own: values
worked out by hand from the paper's formula, mmdet's focal losses and QualityFocalLoss where ASL
reduces to them, and plain BCE at gammas 0."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses.focal_loss import py_focal_loss_with_prob, py_sigmoid_focal_loss
from mmdet.models.losses.gfocal_loss import quality_focal_loss, quality_focal_loss_with_prob

from asl_det.models.losses import py_asymmetric_loss

N, C = 23, 5


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


# (logit, gamma_pos, gamma_neg, clip): elementwise losses of one prior of two classes, the first
# labelled, computed with Python floats straight from the paper's formula.
SCALARS = [(0.0, 1.0, 4.0, 0.05), (1.5, 0.0, 4.0, 0.05), (-2.0, 2.0, 1.0, 0.1),
           (-3.5, 0.0, 4.0, 0.05), (2.0, 0.5, 2.0, 0.0)]


@pytest.mark.parametrize('x,gamma_pos,gamma_neg,clip', SCALARS)
def test_scalars_worked_out_by_hand(x, gamma_pos, gamma_neg, clip):
    p = sigmoid(x)
    p_m = max(p - clip, 0.0)
    positive = -(1 - p) ** gamma_pos * math.log(p)
    negative = -p_m ** gamma_neg * math.log(1 - p_m)
    kwargs = dict(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction='none')
    logits = torch.tensor([[x, x]], dtype=torch.float64)
    labels = py_asymmetric_loss(logits, torch.tensor([0]), **kwargs)
    assert labels[0].tolist() == pytest.approx([positive, negative], rel=1e-12, abs=1e-300)
    soft = py_asymmetric_loss(logits, torch.tensor([[0.3, 0.0]], dtype=torch.float64), **kwargs)
    assert soft[0].tolist() == pytest.approx([0.3 * positive + 0.7 * negative, negative],
                                          rel=1e-12, abs=1e-300)
    score = 0.8
    bce = -(score * math.log(p) + (1 - score) * math.log(1 - p))
    quality = bce * abs(score - p) ** gamma_pos
    scores = torch.tensor([score], dtype=torch.float64)
    rows = py_asymmetric_loss(logits, (torch.tensor([0]), scores), **kwargs)
    assert rows.tolist() == pytest.approx([quality + negative], rel=1e-12)
    probabilities = py_asymmetric_loss(logits.sigmoid(), torch.tensor([0]), activated=True,
                                       **kwargs)
    assert probabilities[0].tolist() == pytest.approx([positive, negative], rel=1e-12,
                                                   abs=1e-300)


def test_negative_below_the_margin_is_zero_with_zero_gradient():
    """p = sigmoid(-3.5) = 0.029 < clip = 0.05: the hard threshold."""
    logits = torch.tensor([[-3.5, -3.5]], dtype=torch.float64, requires_grad=True)
    loss = py_asymmetric_loss(logits, torch.tensor([1]), gamma_neg=0.5, clip=0.05,
                              reduction='none')
    loss.sum().backward()
    assert loss[0, 0] == 0 and logits.grad[0, 0] == 0 and logits.grad[0, 1] != 0


def make_inputs(seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(N, C, generator=gen, dtype=torch.float64) * 3).to(dtype)
    labels = torch.randint(0, C + 1, (N,), generator=gen)  # C = background
    scores = torch.rand(N, generator=gen, dtype=torch.float64).to(dtype)
    weights = dict(prior=torch.rand(N, generator=gen, dtype=torch.float64).to(dtype),
                   element=torch.rand(N, C, generator=gen, dtype=torch.float64).to(dtype))
    weights['flat'] = weights['element'].reshape(-1)
    weights[None] = None
    return logits, labels, scores, weights


CALLS = [('mean', None), ('mean', 4.5), ('sum', None), ('none', None)]


def value_and_grad(fn, pred):
    x = pred.clone().requires_grad_()
    loss = fn(x)
    loss.sum().backward()
    return loss.detach(), x.grad


@pytest.mark.parametrize('gamma,alpha', list(itertools.product([0.0, 1.0, 2.0], [0.25, 0.5, 0.8])))
@pytest.mark.parametrize('weight_shape', ['prior', 'element', 'flat', None])
def test_equals_mmdet_py_sigmoid_focal_loss(gamma, alpha, weight_shape):
    """gamma_pos == gamma_neg == gamma, clip 0, alpha: mmdet's focal loss (one-hot target),
    value and gradient, with each weight shape and reduction."""
    logits, labels, _, weights = make_inputs()
    onehot = F.one_hot(labels, C + 1)[:, :C].double()
    weight = weights[weight_shape]
    for reduction, avg_factor in CALLS:
        call = dict(weight=weight, reduction=reduction, avg_factor=avg_factor)
        loss, grad = value_and_grad(lambda x: py_asymmetric_loss(
            x, labels, gamma_pos=gamma, gamma_neg=gamma, clip=0.0, alpha=alpha, **call), logits)
        ref, ref_grad = value_and_grad(lambda x: py_sigmoid_focal_loss(
            x, onehot, gamma=gamma, alpha=alpha, **call), logits)
        torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize('gamma', [0.0, 2.0])
def test_probabilities_equal_mmdet_py_focal_loss_with_prob(gamma):
    """activated=True, away from the log clamps (mmdet's at -100, this one's at log(eps))."""
    logits, labels, _, weights = make_inputs(seed=1)
    prob = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    call = dict(weight=weights['prior'], avg_factor=3.0)
    loss, grad = value_and_grad(lambda p: py_asymmetric_loss(
        p, labels, gamma_pos=gamma, gamma_neg=gamma, clip=0.0, alpha=0.25, activated=True,
        **call), prob)
    ref, ref_grad = value_and_grad(lambda p: py_focal_loss_with_prob(
        p, labels, gamma=gamma, alpha=0.25, **call), prob)
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize('beta', [0.0, 1.0, 2.0])
@pytest.mark.parametrize('activated', [False, True])
def test_quality_target_equals_mmdet_quality_focal_loss(beta, activated):
    """(labels, scores), gamma_pos == gamma_neg == beta, clip 0: QualityFocalLoss's per-prior
    loss (N,), then the same weighting and reduction."""
    logits, labels, scores, weights = make_inputs(seed=2)
    scores[labels == C] = 0.0
    pred = logits.sigmoid().clamp(1e-4, 1 - 1e-4) if activated else logits
    qfl = quality_focal_loss_with_prob if activated else quality_focal_loss
    for reduction, avg_factor in CALLS:
        call = dict(weight=weights['prior'], reduction=reduction, avg_factor=avg_factor)
        loss, grad = value_and_grad(lambda x: py_asymmetric_loss(
            x, (labels, scores), gamma_pos=beta, gamma_neg=beta, clip=0.0, activated=activated,
            **call), pred)
        ref, ref_grad = value_and_grad(lambda x: qfl(x, (labels, scores), beta=beta, **call),
                                       pred)
        torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)


def test_quality_target_elementwise_weight_applies_before_the_class_sum():
    """A weight constant along each row is the per-prior weight; (N*C,) is the (N, C) weight."""
    logits, labels, scores, weights = make_inputs(seed=3)
    target = (labels, scores)
    by_row = weights['prior'][:, None].expand(N, C)
    torch.testing.assert_close(py_asymmetric_loss(logits, target, by_row, reduction='none'),
                               py_asymmetric_loss(logits, target, weights['prior'],
                                                  reduction='none'))
    torch.testing.assert_close(py_asymmetric_loss(logits, target, weights['flat']),
                               py_asymmetric_loss(logits, target, weights['element']))


def test_zero_gammas_without_margin_equal_bce():
    logits, _, _, weights = make_inputs(seed=4)
    soft = torch.rand(N, C, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    loss, grad = value_and_grad(lambda x: py_asymmetric_loss(
        x, soft, weights['element'], gamma_pos=0.0, gamma_neg=0.0, clip=0.0, reduction='sum'),
        logits)
    ref, ref_grad = value_and_grad(lambda x: F.binary_cross_entropy_with_logits(
        x, soft, weights['element'], reduction='sum'), logits)
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)


def test_detached_focal_weight_is_a_constant_in_the_gradient():
    """The gradient with detached weights is w(x0) * d(log-likelihood)/dx, written by hand."""
    logits, labels, _, _ = make_inputs(seed=6)
    onehot = F.one_hot(labels, C + 1)[:, :C].double()
    clip, gamma_pos, gamma_neg = 0.05, 1.5, 3.0
    _, grad = value_and_grad(lambda x: py_asymmetric_loss(
        x, labels, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, reduction='none',
        detach_focal_weight=True), logits)
    p = logits.sigmoid()
    p_m = (p - clip).clamp(min=0)
    # d(-log p)/dx = -(1 - p); d(-log(1 - p_m))/dx = p (1 - p) / (1 - p_m) where p_m > 0
    positive = -(1 - p) ** gamma_pos * (1 - p)
    negative = p_m ** gamma_neg * p * (1 - p) / (1 - p_m)
    torch.testing.assert_close(grad, torch.where(onehot.bool(), positive, negative))
