"""AsymmetricLoss against the package's plain-autograd reference of the paper's formula
(py_asymmetric_loss, itself checked in test_py_asymmetric_loss.py), focal loss and BCE; gradcheck of
the closed-form gradient; precision, errors and the module's interface."""
import importlib
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses import FocalLoss
from torch import Tensor

from asl_det.models.losses import AsymmetricLoss, asymmetric_loss, py_asymmetric_loss

N, C = 37, 7


def make_inputs(kind, seed=0, scale=4.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(N, C, generator=g) * scale).to(dtype)
    labels = torch.randint(0, C + 1, (N,), generator=g)  # C = background
    onehot = F.one_hot(labels, C + 1)[:, :C].double()
    if kind == 'labels':
        return logits, labels, onehot
    if kind == 'onehot':
        return logits, onehot, onehot
    soft = torch.rand(N, C, generator=g, dtype=torch.float64) * onehot
    return logits, soft, soft


COMBOS = list(itertools.product(
    ['labels', 'onehot', 'soft'], [0.0, 1.0, 2.5], [0.0, 0.5, 4.0], [0.0, 0.05, 0.2],
    [None, 0.25], [False, True]))


@pytest.mark.parametrize('kind,gamma_pos,gamma_neg,clip,alpha,detach', COMBOS)
def test_matches_reference_value_and_gradient(kind, gamma_pos, gamma_neg, clip, alpha, detach):
    logits, target, _ = make_inputs(kind)
    x = logits.clone().requires_grad_()
    loss = asymmetric_loss(x, target, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip,
                           alpha=alpha, reduction='none', detach_focal_weight=detach)
    x_ref = logits.clone().requires_grad_()
    ref = py_asymmetric_loss(x_ref, target, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip,
                             alpha=alpha, reduction='none', detach_focal_weight=detach)
    torch.testing.assert_close(loss, ref, rtol=1e-9, atol=1e-12)
    upstream = torch.rand(N, C, dtype=torch.float64)
    loss.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-7, atol=1e-10)


def gradcheck_inputs(clip, kind='soft'):
    logits, target, y = make_inputs(kind, seed=1, scale=3.0)
    # keep away from the kink of max(p - clip, 0), where finite differences are meaningless
    p = logits.sigmoid()
    logits = torch.where((p - clip).abs() < 1e-3, logits + 0.1, logits)
    return logits, target, y


@pytest.mark.parametrize('clip', [0.0, 0.1])
@pytest.mark.parametrize('kind', ['labels', 'soft'])
def test_gradcheck_float64_full_gradient(clip, kind):
    logits, target, _ = gradcheck_inputs(clip, kind)

    def fn(inp):
        return asymmetric_loss(inp, target, gamma_pos=1.5, gamma_neg=3.0, clip=clip,
                               reduction='none')

    assert torch.autograd.gradcheck(fn, (logits.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize('clip', [0.0, 0.1])
def test_gradcheck_float64_detached_focal_weight(clip):
    """With detached weights the gradient is that of w(x0) * log-likelihood(x) at x = x0."""
    logits, target, y = gradcheck_inputs(clip)
    x0 = logits.clone()
    p0 = x0.sigmoid()
    w_pos0, w_neg0 = (1 - p0) ** 1.5, (p0 - clip).clamp(min=0) ** 3.0

    class FrozenWeightLoss(torch.autograd.Function):
        """Forward: the frozen-weight surrogate (reference); backward: asl_det's gradient."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            p = x.sigmoid()
            p_m = (p - clip).clamp(min=0)
            return -y * w_pos0 * torch.log(p) - (1 - y) * w_neg0 * torch.log(1 - p_m)

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            with torch.enable_grad():
                x = x.detach().requires_grad_()
                loss = asymmetric_loss(x, target, gamma_pos=1.5, gamma_neg=3.0, clip=clip,
                                       reduction='none', detach_focal_weight=True)
                return torch.autograd.grad(loss, x, grad_out)[0]

    assert torch.autograd.gradcheck(FrozenWeightLoss.apply, (x0.requires_grad_(),), eps=1e-6,
                                    atol=1e-6)


@pytest.mark.parametrize('gamma', [0.0, 1.0, 2.0])
@pytest.mark.parametrize('kind', ['labels', 'onehot'])
def test_equals_twice_focal_loss_with_half_alpha(gamma, kind):
    logits, target, _ = make_inputs(kind, dtype=torch.float32)
    asl = AsymmetricLoss(gamma_pos=gamma, gamma_neg=gamma, clip=0.0)
    focal = FocalLoss(gamma=gamma, alpha=0.5)
    for reduction in ('none', 'sum'):
        torch.testing.assert_close(asl(logits, target, reduction_override=reduction),
                                   2 * focal(logits, target, reduction_override=reduction))


@pytest.mark.parametrize('alpha', [0.25, 0.7])
def test_alpha_equals_focal_loss(alpha):
    logits, labels, _ = make_inputs('labels', dtype=torch.float32)
    weight = torch.rand(N)
    x1 = logits.clone().requires_grad_()
    x2 = logits.clone().requires_grad_()
    asl = AsymmetricLoss(gamma_pos=2.0, gamma_neg=2.0, clip=0.0, alpha=alpha)(
        x1, labels, weight, avg_factor=5.0)
    focal = FocalLoss(gamma=2.0, alpha=alpha)(x2, labels, weight, avg_factor=5.0)
    torch.testing.assert_close(asl, focal)
    asl.backward()
    focal.backward()
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_one_score_per_element_equals_focal_loss(reduction):
    """GLIP's and Grounding DINO's heads flatten scores and one-hot targets to (N,): mmdet's
    FocalLoss reads a target of the prediction's shape elementwise, and so does ASL."""
    logits = torch.randn(40) * 3
    target = (torch.rand(40) < 0.3).long()  # integer one-hot entries, as GLIP's labels
    weight = torch.rand(40)
    avg_factor = None if reduction != 'mean' else 7.0
    x1, x2 = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    asl = AsymmetricLoss(gamma_pos=2.0, gamma_neg=2.0, clip=0.0, alpha=0.25)(
        x1, target, weight, avg_factor=avg_factor, reduction_override=reduction)
    focal = FocalLoss(gamma=2.0, alpha=0.25)(x2, target, weight, avg_factor=avg_factor,
                                              reduction_override=reduction)
    assert asl.shape == focal.shape
    torch.testing.assert_close(asl, focal)
    asl.sum().backward()
    focal.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    # the paper's setting on the same call is the (N, 1) loss of one class
    soft = torch.rand(40)
    torch.testing.assert_close(AsymmetricLoss(reduction=reduction)(logits, soft),
                               AsymmetricLoss(reduction=reduction)(
                                   logits[:, None], soft[:, None]).view(-1 if reduction == 'none'
                                                                        else ()))
    with pytest.raises(ValueError, match=r'target must have the shape of a pred of shape '
                                         r'\(N,\) = \(40,\)'):
        AsymmetricLoss()(logits, target[:39])
    # the reference takes the form too, and agrees
    torch.testing.assert_close(
        py_asymmetric_loss(logits, soft, weight, reduction=reduction, reject_above=0.6),
        asymmetric_loss(logits, soft, weight, reduction=reduction, reject_above=0.6))


def test_zero_gammas_equal_bce():
    logits, _, y = make_inputs('soft', dtype=torch.float32)
    x1 = logits.clone().requires_grad_()
    x2 = logits.clone().requires_grad_()
    loss = asymmetric_loss(x1, y.float(), gamma_pos=0, gamma_neg=0, clip=0, reduction='sum')
    bce = F.binary_cross_entropy_with_logits(x2, y.float(), reduction='sum')
    torch.testing.assert_close(loss, bce)
    loss.backward()
    bce.backward()
    torch.testing.assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize('gamma_neg', [0.0, 4.0])
def test_negatives_below_margin_give_exactly_zero(gamma_neg):
    clip = 0.1
    logits = torch.linspace(-8, 8, 400).view(100, 4).requires_grad_()
    labels = torch.full((100,), 4)  # all background
    loss = asymmetric_loss(logits, labels, gamma_neg=gamma_neg, clip=clip, reduction='none')
    loss.sum().backward()
    below = logits.detach().sigmoid() < clip
    assert below.any() and (~below).any()
    assert (loss[below] == 0).all()
    assert (logits.grad[below] == 0).all()
    assert (loss[~below] > 0).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize('detach', [False, True])
@pytest.mark.parametrize('clip', [0.0, 0.05])
def test_finite_for_extreme_logits_in_low_precision(dtype, detach, clip):
    values = torch.tensor([-1e4, -100., -20., -1., 0., 1., 20., 100., 1e4])
    logits = values.repeat(4, 1).to(dtype).requires_grad_()
    targets = [torch.tensor([0, 1, 2, 9]), torch.rand(4, 9)]
    for target in targets:
        loss = asymmetric_loss(logits, target, gamma_pos=1.0, gamma_neg=4.0, clip=clip,
                               detach_focal_weight=detach, reduction='sum')
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        logits.grad = None
        loss.backward()
        assert logits.grad.dtype == dtype and torch.isfinite(logits.grad).all()
    # a very wrong positive still gets its full gradient (no eps saturation)
    loss = asymmetric_loss(logits[:1], torch.tensor([0]), gamma_pos=0, gamma_neg=0, clip=0,
                           reduction='none')
    assert loss[0, 0].item() == pytest.approx(-logits[0, 0].item(), rel=1e-6)


def test_finite_under_autocast():
    logits = (torch.randn(64, 10) * 50).requires_grad_()
    labels = torch.randint(0, 11, (64,))
    loss_fn = AsymmetricLoss()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        scores = torch.nn.functional.linear(logits, torch.eye(10))
        loss = loss_fn(scores, labels, avg_factor=3)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_nan_logits_propagate():
    logits = torch.randn(5, 3)
    logits[2, 1] = float('nan')
    loss = asymmetric_loss(logits, torch.tensor([0, 1, 2, 3, 0]), reduction='none')
    assert torch.isnan(loss[2, 1]) and torch.isfinite(loss[[0, 1, 3, 4]]).all()
    assert torch.isnan(asymmetric_loss(logits, torch.tensor([0, 1, 2, 3, 0])))


def test_activated_input_matches_reference():
    logits, labels, _ = make_inputs('labels', seed=3)
    prob = logits.sigmoid().clamp(1e-6, 1 - 1e-6)
    for detach in (False, True):
        x = prob.clone().requires_grad_()
        x_ref = prob.clone().requires_grad_()
        loss = asymmetric_loss(x, labels, gamma_pos=1.0, gamma_neg=4.0, clip=0.05,
                               activated=True, reduction='none', detach_focal_weight=detach)
        ref = py_asymmetric_loss(x_ref, labels, gamma_pos=1.0, gamma_neg=4.0, clip=0.05,
                                 activated=True, reduction='none', detach_focal_weight=detach)
        torch.testing.assert_close(loss, ref)
        loss.sum().backward()
        ref.sum().backward()
        torch.testing.assert_close(x.grad, x_ref.grad)


def test_weight_shapes_and_reductions():
    logits, labels, _ = make_inputs('labels', seed=4, dtype=torch.float32)
    ref = py_asymmetric_loss(logits, labels, reduction='none')
    w_prior = torch.rand(N)
    w_elem = torch.rand(N, C)
    loss_fn = AsymmetricLoss(loss_weight=2.0)
    torch.testing.assert_close(loss_fn(logits, labels), 2 * ref.mean())
    torch.testing.assert_close(loss_fn(logits, labels, reduction_override='sum'), 2 * ref.sum())
    torch.testing.assert_close(loss_fn(logits, labels, reduction_override='none'), 2 * ref)
    torch.testing.assert_close(loss_fn(logits, labels, w_prior, avg_factor=4),
                               2 * (ref * w_prior[:, None]).sum() / 4)
    torch.testing.assert_close(loss_fn(logits, labels, w_elem, avg_factor=4),
                               2 * (ref * w_elem).sum() / 4)
    torch.testing.assert_close(loss_fn(logits, labels, w_elem.reshape(-1), avg_factor=4),
                               2 * (ref * w_elem).sum() / 4)
    torch.testing.assert_close(
        loss_fn(logits, labels, w_prior, avg_factor=4, reduction_override='none'),
        2 * ref * w_prior[:, None])


WEIGHT_SHAPES = ['prior', 'element', 'flat', None]


@pytest.mark.parametrize('kind', ['labels', 'soft'])
@pytest.mark.parametrize('weight_shape', WEIGHT_SHAPES)
@pytest.mark.parametrize('reduction,avg_factor', [
    ('mean', None), ('mean', 3.5), ('mean', 'tensor'), ('sum', None), ('none', None)])
@pytest.mark.parametrize('detach', [False, True])
def test_fused_weight_and_reduction_match_reference(kind, weight_shape, reduction, avg_factor,
                                                    detach):
    """Weight and reduction applied inside the autograd Function: value and gradient."""
    logits, target, _ = make_inputs(kind, seed=5)
    gen = torch.Generator().manual_seed(6)
    weights = dict(prior=torch.rand(N, generator=gen, dtype=torch.float64), element=torch.rand(
        N, C, generator=gen, dtype=torch.float64))
    weights['flat'] = weights['element'].reshape(-1)
    weight = weights.get(weight_shape)
    if avg_factor == 'tensor':
        avg_factor = torch.tensor(2.5, dtype=torch.float64)
    results = []
    for loss_fn in (asymmetric_loss, py_asymmetric_loss):
        x = logits.clone().requires_grad_()
        results.append((x, loss_fn(x, target, weight, gamma_pos=1.0, gamma_neg=4.0, clip=0.05,
                                   reduction=reduction, avg_factor=avg_factor,
                                   detach_focal_weight=detach)))
    (x, loss), (x_ref, ref) = results
    torch.testing.assert_close(loss, ref, rtol=1e-9, atol=1e-12)
    upstream = torch.rand(ref.shape, generator=gen, dtype=torch.float64) + 0.5
    loss.backward(upstream)
    ref.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-7, atol=1e-10)


def test_gradient_reaches_a_weight_that_requires_grad():
    logits, labels, _ = make_inputs('labels', seed=7)
    weight = torch.rand(N, dtype=torch.float64, requires_grad=True)
    weight_ref = weight.detach().clone().requires_grad_()
    loss = asymmetric_loss(logits, labels, weight, avg_factor=4.0)
    ref = py_asymmetric_loss(logits, labels, weight_ref, avg_factor=4.0)
    torch.testing.assert_close(loss, ref)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(weight.grad, weight_ref.grad)


@pytest.mark.parametrize('fn', [asymmetric_loss, py_asymmetric_loss])
@pytest.mark.parametrize('kind', ['soft', 'quality'])
@pytest.mark.parametrize('pred_needs_grad', [True, False])
def test_targets_are_constants(fn, kind, pred_needs_grad):
    """A target left attached to a graph (a teacher's soft target, an IoU score) gets no
    gradient and changes nothing of the prediction's; without a prediction that needs one, the
    loss needs none (the fast path's backward failed on this, or left the target's gradient
    silently None while the reference gave one)."""
    logits, labels, onehot = make_inputs('labels', seed=9)
    if kind == 'soft':
        source = torch.rand(N, C, dtype=torch.float64, requires_grad=True)
        target = source * onehot
        constant = target.detach()
    else:
        source = torch.rand(N, dtype=torch.float64, requires_grad=True)
        target, constant = (labels, source * 1.0), (labels, source.detach())
    x = logits.clone().requires_grad_(pred_needs_grad)
    loss = fn(x, target, clip=0.05)
    if not pred_needs_grad:
        assert not loss.requires_grad
        return
    loss.backward()
    assert source.grad is None
    x_ref = logits.clone().requires_grad_()
    fn(x_ref, constant, clip=0.05).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_summed_loss_does_not_cancel_at_confident_positives():
    """The sum (mean) of labels and quality targets is the sum of the elementwise loss even where
    a positive's negative term is large (clip 0, confident positives: about the logit), which a
    sum-then-subtract correction lost in float32 (it came out negative)."""
    n, c = 2000, 80
    g = torch.Generator().manual_seed(0)
    logits = torch.full((n, c), -12.0)
    labels = torch.full((n,), c)  # background
    labels[:100] = torch.randint(0, c, (100,), generator=g)
    logits[torch.arange(100), labels[:100]] = 20 + 40 * torch.rand(100, generator=g)
    for target in (labels, (labels, torch.ones(n))):
        for clip in (0.0, 0.05):
            kwargs = dict(gamma_pos=0.0, gamma_neg=2.0, clip=clip)
            exact = py_asymmetric_loss(logits.double(), target if isinstance(target, Tensor)
                                       else (labels, target[1].double()), reduction='sum',
                                       **kwargs)
            total = asymmetric_loss(logits, target, reduction='sum', **kwargs)
            elementwise = asymmetric_loss(logits, target, reduction='none', **kwargs).sum()
            torch.testing.assert_close(total.double(), exact, rtol=1e-4, atol=0)
            torch.testing.assert_close(total, elementwise, rtol=1e-4, atol=0)


@pytest.mark.parametrize('fn', [asymmetric_loss, py_asymmetric_loss])
def test_gradient_where_the_probability_is_exactly_zero(fn):
    """p == 0 exactly (an underflowed probability, a logit beyond float64's sigmoid): without a
    margin the negative term is -log(1 - p) whatever gamma_neg, slope 1 in p; on logits its
    derivative is 0, not NaN (pow's derivative at 0 for 0 < gamma_neg < 1)."""
    p = torch.tensor([[0.0], [0.5]], dtype=torch.float64, requires_grad=True)
    negative = torch.ones(2, dtype=torch.long)  # class 1 of 1: background
    fn(p, negative, gamma_neg=0.0, clip=0.0, activated=True, reduction='sum').backward()
    torch.testing.assert_close(p.grad[0], torch.ones(1, dtype=torch.float64))
    x = torch.tensor([[-1e4], [3.0]], dtype=torch.float64, requires_grad=True)
    fn(x, torch.tensor([1, 0]), gamma_neg=0.5, clip=0.0, reduction='sum').backward()
    assert torch.isfinite(x.grad).all() and x.grad[0].item() == 0.0


def test_backward_twice_with_retained_graph():
    """The saved derivative is not consumed: a second backward adds the same gradient."""
    logits, labels, _ = make_inputs('labels', seed=8)
    x = logits.clone().requires_grad_()
    loss = asymmetric_loss(x, labels, torch.rand(N, dtype=torch.float64), avg_factor=2.0)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * first)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_no_priors(reduction):
    """An image without priors (N = 0) gives mmdet's empty reductions and an empty gradient."""
    x = torch.zeros(0, C, requires_grad=True)
    loss = asymmetric_loss(x, torch.zeros(0, dtype=torch.long), torch.zeros(0),
                           reduction=reduction)
    expected = py_asymmetric_loss(torch.zeros(0, C), torch.zeros(0, dtype=torch.long),
                                  torch.zeros(0), reduction=reduction)
    torch.testing.assert_close(loss, expected, equal_nan=True)
    loss.sum().backward()
    assert x.grad.shape == (0, C)


@pytest.mark.parametrize('kwargs,match', [
    (dict(gamma_pos=-1.0), 'gamma_pos'),
    (dict(gamma_neg=-0.5), 'gamma_neg'),
    (dict(gamma_neg=float('nan')), 'gamma_neg'),
    (dict(clip=1.0), r'clip must be in \[0, 1\)'),
    (dict(clip=-0.1), 'clip'),
    (dict(alpha=1.5), 'alpha'),
    (dict(use_sigmoid=False), 'use_sigmoid'),
    (dict(reduction='avg'), 'reduction'),
    (dict(score_activation='softmax'), 'score_activation'),
    (dict(loss_weight=-1.0), 'loss_weight'),
])
def test_invalid_construction_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AsymmetricLoss(**kwargs)


INVALID_HYPER_PARAMETERS = [
    (dict(eps=0), r'eps must be in \(0, 0.5\), got 0'),
    (dict(gamma_neg=-1), r'gamma_neg must be in \[0, inf\), got -1'),
    (dict(clip=1), r'clip must be in \[0, 1\), got 1'),
    (dict(alpha=1.5), r'alpha must be in \[0, 1\], got 1.5'),
    (dict(reject_above=1), r'reject_above must be None \(off\) or in \(0, 1\), got 1'),
    (dict(mirror_weight=-1), r'mirror_weight must be in \[0, inf\), got -1'),
]


@pytest.mark.parametrize('kwargs,match', INVALID_HYPER_PARAMETERS)
@pytest.mark.parametrize('fn', [asymmetric_loss, py_asymmetric_loss])
def test_functional_forms_refuse_invalid_hyper_parameters(fn, kwargs, match):
    """Every call of the functional forms validates, as the Module does at construction."""
    logits, labels = torch.zeros(2, 3), torch.tensor([0, 3])
    with pytest.raises(ValueError, match=match):
        fn(logits, labels, **kwargs)
    with pytest.raises(ValueError, match=match):
        AsymmetricLoss(**kwargs)


def test_module_validates_at_construction_only(monkeypatch):
    """The Module's calls skip the hyper-parameter check (done once in __init__); the functional
    form runs it on every call."""
    asl_module = importlib.import_module('asl_det.models.losses.asymmetric_loss')
    loss_fn = AsymmetricLoss()
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 3])
    expected = py_asymmetric_loss(logits, labels)

    def refuse(*args, **kwargs):
        raise AssertionError('check_asl_params called')
    monkeypatch.setattr(asl_module, 'check_asl_params', refuse)
    torch.testing.assert_close(loss_fn(logits, labels), expected)
    with pytest.raises(AssertionError, match='check_asl_params called'):
        asymmetric_loss(logits, labels)


def test_invalid_types_raise_type_error():
    with pytest.raises(TypeError, match='gamma_neg'):
        AsymmetricLoss(gamma_neg='4')
    # a config's string 'False' would count as true
    for flag in ('activated', 'detach_focal_weight', 'compiled'):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got 'False'"):
            AsymmetricLoss(**{flag: 'False'})
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 3])
    for fn in (asymmetric_loss, py_asymmetric_loss):
        with pytest.raises(TypeError, match='detach_focal_weight must be True or False'):
            fn(logits, labels, detach_focal_weight=2)
    # what --cfg-options and numpy give for a flag: 0 / 1 and numpy bools
    import numpy as np
    assert AsymmetricLoss(activated=1).activated is True
    assert AsymmetricLoss(detach_focal_weight=np.False_).detach_focal_weight is False


def test_invalid_call_arguments_raise():
    loss_fn = AsymmetricLoss()
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    with pytest.raises(ValueError, match='reduction_override'):
        loss_fn(logits, labels, reduction_override='avg')
    with pytest.raises(ValueError, match='avg_factor'):
        loss_fn(logits, labels, avg_factor=2, reduction_override='sum')
    with pytest.raises(ValueError, match=r'labels must be in \[0, num_classes\] = \[0, 3\]'):
        loss_fn(logits, torch.tensor([0, 1, 2, 4, 0, 1]))
    with pytest.raises(ValueError, match='labels must be in'):
        loss_fn(logits, torch.tensor([0, -1, 2, 3, 0, 1]))
    with pytest.raises(ValueError, match='target must have shape'):
        loss_fn(logits, torch.zeros(6, 4))
    with pytest.raises(ValueError, match='target given as labels'):
        loss_fn(logits, labels[:5])
    with pytest.raises(ValueError, match='weight must have shape'):
        loss_fn(logits, labels, torch.ones(5))
    with pytest.raises(ValueError, match='pred must have shape'):
        loss_fn(logits.view(2, 3, 3), labels)


def test_shifted_score_activation():
    cls_score = torch.tensor([[-10.0, 0.0, 10.0]])
    shifted = AsymmetricLoss(clip=0.05)
    assert shifted.custom_cls_channels and shifted.custom_activation
    assert shifted.get_cls_channels(80) == 80
    expected = (cls_score.sigmoid() - 0.05).clamp(min=0)
    torch.testing.assert_close(shifted.get_activation(cls_score), expected)
    assert shifted.get_activation(cls_score)[0, 0] == 0
    assert not AsymmetricLoss(clip=0.05, score_activation='sigmoid').custom_cls_channels
    assert not AsymmetricLoss(clip=0.0).custom_cls_channels


def test_registered_in_mmdet_registry():
    from mmdet.registry import MODELS
    loss = MODELS.build(dict(type='AsymmetricLoss', gamma_neg=2.0))
    assert isinstance(loss, AsymmetricLoss) and loss.gamma_neg == 2.0


def test_defaults_come_from_asl_defaults():
    """One place for the defaults: the class and the function read ASL_DEFAULTS (read-only)."""
    import inspect

    from asl_det.models.losses import ASL_DEFAULTS
    assert dict(ASL_DEFAULTS) == dict(gamma_pos=0.0, gamma_neg=4.0, clip=0.05, eps=1e-8)
    loss = AsymmetricLoss()
    parameters = inspect.signature(asymmetric_loss).parameters
    for key, value in ASL_DEFAULTS.items():
        assert getattr(loss, key) == value
        assert parameters[key].default == value
    with pytest.raises(TypeError):
        ASL_DEFAULTS['clip'] = 0.1


def test_shifted_score_activation_of_probabilities():
    """With activated=True (TOOD) the head's scores are probabilities: shifted, not re-sigmoided."""
    prob = torch.tensor([[0.01, 0.5, 0.99]])
    loss = AsymmetricLoss(clip=0.05, activated=True)
    torch.testing.assert_close(loss.get_activation(prob), (prob - 0.05).clamp(min=0))


def test_compiled_with_probabilities_is_refused():
    with pytest.raises(ValueError, match='compiled=True needs logits'):
        asymmetric_loss(torch.rand(4, 3), torch.tensor([0, 1, 2, 3]), activated=True,
                        compiled=True)
    with pytest.raises(ValueError, match='compiled=True needs logits'):
        AsymmetricLoss(activated=True, compiled=True)
