"""AsymmetricLoss with (labels, scores) quality targets (GFL, TOOD, RTMDet): against mmdet's
QualityFocalLoss, the package's plain-autograd reference (py_asymmetric_loss, itself checked in
test_py_asymmetric_loss.py), the integer-label loss, gradcheck, the margin, low precision and
saturation, and every input error."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses import QualityFocalLoss

from asl_det.models.losses import AsymmetricLoss, asymmetric_loss, py_asymmetric_loss

N, C = 41, 6


def make_inputs(seed=0, dtype=torch.float64, scale=4.0, activated=False, num_priors=N):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(num_priors, C, generator=gen, dtype=torch.float64) * scale)
    labels = torch.randint(0, C + 1, (num_priors,), generator=gen)   # C = background
    labels[:3] = torch.tensor([0, C, C - 1])
    scores = torch.rand(num_priors, generator=gen, dtype=torch.float64)
    scores[labels == C] = 0.0                  # as the heads give them: 0 for background
    pred = logits.sigmoid().clamp(1e-4, 1 - 1e-4) if activated else logits
    return pred.to(dtype), labels, scores.to(dtype)


def value_and_grad(fn, pred, upstream=None):
    x = pred.clone().requires_grad_()
    loss = fn(x)
    loss.backward(torch.ones_like(loss) if upstream is None else upstream)
    return loss.detach(), x.grad


COMBOS = list(itertools.product([0.0, 1.0, 2.5], [0.0, 0.5, 4.0], [0.0, 0.05, 0.2],
                                [None, 0.25], [False, True]))


@pytest.mark.parametrize('gamma_pos,gamma_neg,clip,alpha,detach', COMBOS)
@pytest.mark.parametrize('activated', [False, True])
def test_matches_independent_reference(gamma_pos, gamma_neg, clip, alpha, detach, activated):
    pred, labels, scores = make_inputs(activated=activated)
    kwargs = dict(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, alpha=alpha)
    upstream = torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    loss, grad = value_and_grad(lambda x: asymmetric_loss(
        x, (labels, scores), reduction='none', activated=activated, detach_focal_weight=detach,
        **kwargs), pred, upstream)
    ref, ref_grad = value_and_grad(lambda x: py_asymmetric_loss(
        x, (labels, scores), reduction='none', activated=activated, detach_focal_weight=detach,
        **kwargs), pred, upstream)
    assert loss.shape == (N,)
    torch.testing.assert_close(loss, ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-7, atol=1e-10)


WEIGHT_SHAPES = ['prior', 'element', 'flat', None]
REDUCTIONS = [('mean', None), ('mean', 1.0), ('mean', 3.5), ('mean', 'tensor'), ('sum', None),
              ('none', None)]


@pytest.mark.parametrize('weight_shape', WEIGHT_SHAPES)
@pytest.mark.parametrize('reduction,avg_factor', REDUCTIONS)
@pytest.mark.parametrize('weight_needs_grad', [False, True])
def test_weights_and_reductions_match_reference(weight_shape, reduction, avg_factor,
                                                weight_needs_grad):
    """Elementwise weights applied before the sum over classes; value and gradient (logits and,
    for a weight that needs one, the weight)."""
    pred, labels, scores = make_inputs(seed=2)
    gen = torch.Generator().manual_seed(3)
    element = torch.rand(N, C, generator=gen, dtype=torch.float64)
    weight = dict(prior=torch.rand(N, generator=gen, dtype=torch.float64), element=element,
                  flat=element.reshape(-1)).get(weight_shape)
    if weight is not None and weight_needs_grad:
        weight = weight.clone().requires_grad_()
    if avg_factor == 'tensor':
        avg_factor = torch.tensor(2.5, dtype=torch.float64)
    kwargs = dict(gamma_pos=1.5, gamma_neg=3.0, clip=0.05, reduction=reduction,
                  avg_factor=avg_factor)
    x = pred.clone().requires_grad_()
    loss = asymmetric_loss(x, (labels, scores), weight, **kwargs)
    x_ref = pred.clone().requires_grad_()
    ref_weight = None if weight is None else weight.detach().clone().requires_grad_()
    ref = py_asymmetric_loss(x_ref, (labels, scores), ref_weight, **kwargs)
    torch.testing.assert_close(loss, ref, rtol=1e-9, atol=1e-12)
    upstream = torch.rand(ref.shape, generator=gen, dtype=torch.float64) + 0.5
    loss.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-7, atol=1e-10)
    if weight is not None and weight_needs_grad:
        torch.testing.assert_close(weight.grad, ref_weight.grad, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize('beta', [0.0, 1.0, 2.0, 2.5])
@pytest.mark.parametrize('activated', [False, True])
@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_equals_mmdet_quality_focal_loss(beta, activated, dtype):
    """gamma_pos == gamma_neg == beta, clip 0: QualityFocalLoss, for the heads' calls (GFL:
    label_weights and avg_factor = num_pos; RTMDet, TOOD: avg_factor 1.0) and every reduction."""
    pred, labels, scores = make_inputs(seed=4, dtype=dtype, activated=activated)
    weight = torch.rand(N, generator=torch.Generator().manual_seed(5)).to(dtype)
    asl = AsymmetricLoss(gamma_pos=beta, gamma_neg=beta, clip=0.0, activated=activated,
                         loss_weight=1.5)
    qfl = QualityFocalLoss(beta=beta, activated=activated, loss_weight=1.5)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == torch.float64 else {}
    calls = [dict(weight=weight, avg_factor=7.0), dict(weight=weight, avg_factor=1.0),
             dict(weight=None, avg_factor=None), dict(weight=weight, avg_factor=None),
             dict(weight=weight, avg_factor=torch.tensor(3.0))]
    for reduction, call in itertools.product([None, 'mean', 'sum', 'none'], calls):
        if reduction == 'sum' and call['avg_factor'] is not None:
            continue
        kwargs = dict(call, reduction_override=reduction)
        loss, grad = value_and_grad(lambda x: asl(x, (labels, scores), **kwargs), pred)
        ref, ref_grad = value_and_grad(lambda x: qfl(x, (labels, scores), **kwargs), pred)
        assert loss.shape == ref.shape
        torch.testing.assert_close(loss, ref.to(loss.dtype), **tol)
        torch.testing.assert_close(grad, ref_grad, **tol)


@pytest.mark.parametrize('gamma_pos,gamma_neg,clip,alpha,detach', [
    (0.0, 4.0, 0.05, None, False), (1.0, 2.0, 0.0, 0.25, False), (2.5, 0.5, 0.2, None, True),
    (0.0, 0.0, 0.0, None, False)])
@pytest.mark.parametrize('activated', [False, True])
def test_scores_of_one_equal_integer_label_loss(gamma_pos, gamma_neg, clip, alpha, detach,
                                                activated):
    """s == 1 everywhere is the integer-label ASL, summed over classes (so 'sum' and avg_factor
    agree as they are; 'none' gives the row sums)."""
    pred, labels, _ = make_inputs(seed=6, dtype=torch.float32, activated=activated)
    ones = torch.ones(N)
    weight = torch.rand(N, generator=torch.Generator().manual_seed(7))
    kwargs = dict(gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip, alpha=alpha,
                  detach_focal_weight=detach, activated=activated)
    for reduction, avg_factor in [('sum', None), ('mean', 4.0), ('none', None)]:
        call = dict(weight=weight, reduction=reduction, avg_factor=avg_factor, **kwargs)
        loss, grad = value_and_grad(lambda x: asymmetric_loss(x, (labels, ones), **call), pred)
        ref, ref_grad = value_and_grad(
            lambda x: asymmetric_loss(x, labels, **call).reshape(N, -1).sum(1).reshape(
                loss.shape) if reduction == 'none' else asymmetric_loss(x, labels, **call), pred)
        torch.testing.assert_close(loss, ref)
        torch.testing.assert_close(grad, ref_grad)
    mean_rows = asymmetric_loss(pred, (labels, ones), **kwargs)
    mean_elements = asymmetric_loss(pred, labels, **kwargs)
    torch.testing.assert_close(mean_rows, mean_elements * C)   # 'mean': over N, not N * C


def gradcheck_inputs(clip, activated=False):
    pred, labels, scores = make_inputs(seed=8, scale=3.0, activated=activated, num_priors=17)
    p = pred if activated else pred.sigmoid()
    # keep away from the kinks of max(p - clip, 0) and |s - p|, where finite differences fail
    near_kink = ((p - clip).abs() < 1e-3) | ((p - scores[:, None]).abs() < 1e-3)
    pred = torch.where(near_kink, pred + (0.01 if activated else 0.1), pred)
    return pred, labels, scores


@pytest.mark.parametrize('clip', [0.0, 0.1])
@pytest.mark.parametrize('gamma_pos', [0.5, 2.0])
@pytest.mark.parametrize('activated', [False, True])
def test_gradcheck_float64(clip, gamma_pos, activated):
    pred, labels, scores = gradcheck_inputs(clip, activated)

    def fn(inp):
        return asymmetric_loss(inp, (labels, scores), gamma_pos=gamma_pos, gamma_neg=3.0,
                               clip=clip, reduction='none', activated=activated)

    assert torch.autograd.gradcheck(fn, (pred.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize('gamma_neg', [0.0, 4.0])
@pytest.mark.parametrize('activated', [False, True])
def test_negatives_below_margin_give_exactly_zero(gamma_neg, activated):
    clip = 0.1
    x = torch.linspace(-8, 8, 400).view(100, 4)
    pred = (x.sigmoid() if activated else x).requires_grad_()
    labels = torch.where(torch.arange(100) % 3 == 0, torch.arange(100) % 4, 4)
    scores = torch.rand(100, generator=torch.Generator().manual_seed(9))
    loss = asymmetric_loss(pred, (labels, scores), gamma_neg=gamma_neg, clip=clip,
                           reduction='none', activated=activated)
    loss.sum().backward()
    labelled = F.one_hot(labels, 5)[:, :4].bool()
    below = (x.sigmoid() < clip) & ~labelled
    assert below.any() and (~below).any()
    assert (pred.grad[below] == 0).all()
    background_below = (labels == 4) & below.all(1)
    assert background_below.any() and (loss[background_below] == 0).all()
    assert (loss[(labels == 4) & ~below.all(1)] > 0).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize('detach', [False, True])
@pytest.mark.parametrize('clip,gamma_pos', [(0.0, 2.0), (0.05, 0.0), (0.05, 0.5)])
def test_finite_for_saturated_logits_in_low_precision(dtype, detach, clip, gamma_pos):
    values = torch.tensor([-1e4, -100., -20., -1., 0., 1., 20., 100., 1e4])
    logits = values.repeat(6, 1).to(dtype).requires_grad_()
    labels = torch.tensor([0, 4, 8, 9, 2, 6])
    for scores in (torch.tensor([1.0, 0.0, 0.3, 0.0, 0.5, 1.0]), torch.ones(6)):
        loss = asymmetric_loss(logits, (labels, scores.to(dtype)), gamma_pos=gamma_pos,
                               gamma_neg=4.0, clip=clip, detach_focal_weight=detach,
                               reduction='sum')
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        logits.grad = None
        loss.backward()
        assert logits.grad.dtype == dtype and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize('detach', [False, True])
@pytest.mark.parametrize('clip,gamma_pos', [(0.0, 2.0), (0.05, 0.0), (0.05, 0.5)])
def test_finite_for_saturated_probabilities_in_low_precision(dtype, detach, clip, gamma_pos):
    """activated=True (TOOD) with probabilities at and next to 0 and 1."""
    values = torch.tensor([0.0, 1e-10, 1e-4, 0.05, 0.5, 0.999, 1 - 1e-7, 1.0])
    prob = values.repeat(6, 1).to(dtype).requires_grad_()
    labels = torch.tensor([0, 7, 6, 8, 2, 1])
    for scores in (torch.tensor([1.0, 0.0, 0.3, 0.0, 0.5, 1.0]), torch.ones(6)):
        loss = asymmetric_loss(prob, (labels, scores.to(dtype)), gamma_pos=gamma_pos,
                               gamma_neg=4.0, clip=clip, detach_focal_weight=detach,
                               reduction='sum', activated=True)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        prob.grad = None
        loss.backward()
        assert prob.grad.dtype == dtype and torch.isfinite(prob.grad).all()


@pytest.mark.parametrize('gamma_pos', [0.5, 0.01])
@pytest.mark.parametrize('activated', [False, True])
def test_positive_at_its_score_costs_zero_with_a_finite_gradient(gamma_pos, activated):
    """|s - p|^g has no derivative at s == p for g < 1: the loss is 0 there and takes 0 for
    the focusing weight's part of the gradient."""
    logits = torch.tensor([[0.0, -30.0]], dtype=torch.float64)   # sigmoid(0) == 0.5 exactly
    pred = (logits.sigmoid() if activated else logits).requires_grad_()
    scores = torch.tensor([0.5], dtype=torch.float64)
    loss = asymmetric_loss(pred, (torch.tensor([0]), scores), gamma_pos=gamma_pos,
                           gamma_neg=4.0, clip=0.0, reduction='sum', activated=activated)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-20)
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 0] == 0


def test_float32_keeps_relative_precision_at_saturation():
    """Scores 1 and 0 at saturated logits: float32 against float64, relative to each element."""
    logits = torch.linspace(-30, 30, 1201).view(-1, 1).repeat(1, 3)
    labels = torch.tensor([0, 1, 3]).repeat(401)[:1201]
    scores = torch.tensor([1.0, 0.0, 0.0]).repeat(401)[:1201]
    kwargs = dict(gamma_pos=1.0, gamma_neg=4.0, clip=0.05, reduction='none')
    loss, grad = value_and_grad(lambda x: asymmetric_loss(x, (labels, scores), **kwargs), logits)
    ref, ref_grad = value_and_grad(
        lambda x: asymmetric_loss(x, (labels, scores.double()), **kwargs), logits.double())
    torch.testing.assert_close(loss, ref.float(), rtol=2e-5, atol=1e-30)
    torch.testing.assert_close(grad, ref_grad.float(), rtol=2e-5, atol=1e-30)


def test_no_priors():
    x = torch.zeros(0, C, requires_grad=True)
    target = (torch.zeros(0, dtype=torch.long), torch.zeros(0))
    assert asymmetric_loss(x, target, reduction='none').shape == (0,)
    assert asymmetric_loss(x, target, reduction='sum') == 0
    assert asymmetric_loss(x, target, torch.zeros(0), avg_factor=1.0) == 0
    assert torch.isnan(asymmetric_loss(x, target))              # mean of nothing, as mmdet


def test_list_target_is_accepted():
    pred, labels, scores = make_inputs(seed=10)
    torch.testing.assert_close(asymmetric_loss(pred, [labels, scores]),
                               asymmetric_loss(pred, (labels, scores)))


@pytest.mark.parametrize('target,error,match', [
    (lambda labels, s: (labels, s.clone().fill_(1.5)), ValueError,
     r'target scores must be in \[0, 1\]'),
    (lambda labels, s: (labels, s.clone().fill_(-0.1)), ValueError, 'target scores must be in'),
    (lambda labels, s: (labels, s.clone().fill_(float('nan'))), ValueError,
     'target scores must be in'),
    (lambda labels, s: (labels, s, s), ValueError,
     'target given as a tuple must be .* length 2, got length 3'),
    (lambda labels, s: (labels,), ValueError, 'length 2, got length 1'),
    (lambda labels, s: (labels[:-1], s), ValueError,
     r'target labels must be an integer tensor of shape \(N,\) = \(6,\)'),
    (lambda labels, s: (labels.float(), s), ValueError, 'target labels must be an integer tensor'),
    (lambda labels, s: (labels, s[:-1]), ValueError,
     r'target scores must be a floating tensor of shape'),
    (lambda labels, s: (labels, (s * 10).long()), ValueError,
     'target scores must be a floating tensor'),
    (lambda labels, s: (labels, s.view(-1, 1)), ValueError,
     'target scores must be a floating tensor'),
    (lambda labels, s: (labels.clone().fill_(4), s), ValueError,
     r'target labels must be in \[0, num_classes\] = \[0, 3\]'),
    (lambda labels, s: (labels.clone().fill_(-1), s), ValueError, 'target labels must be in'),
    (lambda labels, s: 'labels', TypeError, 'target must be a tensor or a'),
])
def test_invalid_target_raises(target, error, match):
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    scores = torch.rand(6)
    for activated in (False, True):
        with pytest.raises(error, match=match):
            AsymmetricLoss(activated=activated)(logits.sigmoid() if activated else logits,
                                                target(labels, scores))


def test_invalid_weight_and_soft_target_raise():
    logits = torch.randn(6, 3)
    target = (torch.tensor([0, 1, 2, 3, 0, 1]), torch.rand(6))
    with pytest.raises(ValueError, match='weight must have shape'):
        asymmetric_loss(logits, target, torch.ones(5))
    with pytest.raises(ValueError, match=r'target of shape \(N, C\) must be in \[0, 1\]'):
        asymmetric_loss(logits, torch.full((6, 3), 1.2))
    # an integer one-hot is cast, as mmdet's FocalLoss casts it; (N, 1) weights broadcast
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 0, 1]), 3)
    weight = torch.rand(6)
    torch.testing.assert_close(asymmetric_loss(logits, one_hot, weight.view(6, 1)),
                               asymmetric_loss(logits, one_hot.float(), weight))
    with pytest.raises(ValueError, match=r'target of shape \(N, C\) must be in \[0, 1\]'):
        asymmetric_loss(logits, torch.full((6, 3), 2, dtype=torch.long))
