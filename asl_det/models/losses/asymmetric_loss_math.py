"""Elementwise Asymmetric Loss math: one closed-form loss and derivative, eager or compiled.

For a logit ``x``, target ``y`` in [0, 1] and ``p = sigmoid(x)`` (ASL paper, eq. 6-7)::

    loss = -y * a_pos * (1 - p)^gamma_pos * log(p)
           - (1 - y) * a_neg * p_m^gamma_neg * log(1 - p_m),      p_m = max(p - clip, 0)

with ``a_pos = alpha, a_neg = 1 - alpha`` when ``alpha`` is given, else 1. The logs are taken in
log-sigmoid form, so the loss neither saturates nor loses its gradient for large logits.

Each term and its derivative is written once (:func:`_positive_term`, :func:`_negative_term`) and
:func:`_asl_loss_and_grad` combines them; the eager path and the ``torch.compile`` path run that
same function. ``AsymmetricLossFunction`` computes the loss, its weighting and reduction, and
its local derivative (weight included) in one pass over the shared intermediates, saves the
derivative, and its backward is a single multiply. For integer labels the negative term is
computed densely and the positive term only at the one labelled class per row (N elements
instead of N x C). Compiled, all of it is one fused (N, C) kernel plus a small (N,) one.
"""
import functools
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


def _expand_target(target: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """Target as an (N, C) tensor of ``dtype``.

    Integer labels (N,) in [0, num_classes] become one-hot rows; label ``num_classes`` (background)
    is an all-zero row. (N, C) targets are cast.
    """
    if target.dim() == 1:
        classes = torch.arange(num_classes, device=target.device)
        return (target.unsqueeze(1) == classes).to(dtype)
    return target.to(dtype)


def _class_weights(alpha: Optional[float]):
    return (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the loss is computed in for inputs of ``dtype``: float64 for float64, else
    float32, so low precision never enters the math."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _compute_dtype(logits: Tensor) -> Tensor:
    """``logits`` in :func:`compute_dtype` (no copy when already there)."""
    return logits.to(compute_dtype(logits.dtype))


def _pow(base: Tensor, exponent, log_base: Optional[Callable[[], Tensor]] = None,
         in_place: bool = False) -> Tensor:
    """``base ** exponent`` (``base >= 0``), as a new tensor or, with ``in_place``, in ``base``.

    Python exponents (eager path): ATen's ``pow``, even integral ones above 3 by repeated squaring
    (ATen special-cases 2 and 3 only; 4 is the default ``gamma_neg``). 0-d tensor exponents (the
    compiled path, never in place): ``exp(exponent * log(base))``, a third of the cost of
    inductor's ``pow`` with a tensor exponent; ``log_base()`` gives a cancellation-free
    ``log(base)`` where there is one. There ``0 ** 0`` comes out NaN (``0 * -inf``): callers that
    can meet it mask with ``where``.
    """
    if isinstance(exponent, Tensor):
        return torch.exp((torch.log(base) if log_base is None else log_base()) * exponent)
    if exponent > 3 and float(exponent).is_integer():
        if exponent % 2 == 0:
            return _pow(base, exponent // 2, in_place=in_place).square_()
        if not in_place:
            return _pow(base, exponent - 1).mul_(base)
    return base.pow_(exponent) if in_place else base.pow(exponent)


def _add_quotient_(out: Tensor, num: Tensor, den: Tensor, scale) -> Tensor:
    """``out += scale * num / den`` in place; ``scale`` a number, or a 0-d tensor when compiled."""
    if isinstance(scale, Tensor):
        return out.add_(num / den * scale)
    return out.addcdiv_(num, den, value=scale)


def _add_product_(out: Tensor, a: Tensor, b: Tensor, scale) -> Tensor:
    """``out += scale * a * b`` in place; ``scale`` a number, or a 0-d tensor when compiled."""
    if isinstance(scale, Tensor):
        return out.add_(a * b * scale)
    return out.addcmul_(a, b, value=scale)


def _positive_term(x: Tensor, gamma_pos, with_grad: bool,
                   detach: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """``-(1 - p)^gamma_pos * log(p)`` elementwise (>= 0) and its derivative in ``x`` (or None).

    d/dx = -q^(gp+1) + gp * p * q^gp * log(p) = -q^(gp+1) - gp * p * loss, with q = 1 - p; the
    second part is the gradient through the focusing weight, left out when ``detach``.
    """
    q = torch.sigmoid(-x)
    w = _pow(q, gamma_pos, lambda: F.logsigmoid(-x))
    loss = F.logsigmoid(x).mul_(w).neg_()
    if not with_grad:
        return loss, None
    grad = w.mul_(q).neg_()
    if not detach:
        _add_product_(grad, torch.sigmoid(x), loss, -gamma_pos)
    return loss, grad


def _margin_weight(p_m: Tensor, gamma_neg) -> Tensor:
    """``p_m ** gamma_neg`` with ``0 ** 0`` taken as 0: the negative focusing weight, exactly zero
    below the margin whatever ``gamma_neg``. Overwrites ``p_m`` (a number ``gamma_neg``) or
    returns a new tensor (a 0-d tensor ``gamma_neg``, compiled path)."""
    if isinstance(gamma_neg, Tensor):
        return torch.where(p_m > 0, _pow(p_m, gamma_neg), 0.0)
    return p_m.sign_() if gamma_neg == 0 else _pow(p_m, gamma_neg, in_place=True)


def _sigmoid_pair(x: Tensor) -> Tuple[Tensor, Tensor]:
    """``(sigmoid(x), sigmoid(-x))``, each without cancellation (never ``1 - sigmoid(x)``).

    Compiled: from one ``exp(-|x|)``, so the pair costs a single transcendental in the fused
    kernel. Eager: two ATen sigmoids.
    """
    if torch.compiler.is_compiling():
        e = torch.exp(-x.abs())
        t = torch.reciprocal(1 + e)
        et = e * t
        non_negative = x >= 0
        return torch.where(non_negative, t, et), torch.where(non_negative, et, t)
    return torch.sigmoid(x), torch.neg(x).sigmoid_()


def _negative_term(x: Tensor, gamma_neg, clip: float, with_grad: bool,
                   detach: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """``-p_m^gamma_neg * log(1 - p_m)`` elementwise (>= 0) and its derivative in ``x`` (or None).

    With s = sigmoid(x), q = 1 - s, r = 1 - p_m (= q + clip where p_m > 0), w = p_m^gn::

        d/dx = s*q * (w / r - gn * p_m^(gn-1) * log r)  =  s*q * w * (1/r + gn * log(1/r) / p_m)

    where p_m > 0. Below the margin p_m == 0 and w == 0, so loss and derivative are exactly 0.
    The second part (the gradient through the focusing weight) is left out when ``detach``.
    Cancellation-free pieces: ``log(1/r) = -log1p(-p_m)``, ``r = q + clip`` and q = sigmoid(-x)
    (:func:`_sigmoid_pair`), so the float32 derivative keeps its relative precision for
    saturated negatives (p near 1) and near the margin. With ``clip == 0``, ``log(1 - p)`` is
    ``-softplus(x)``. Temporaries are updated in place wherever the formula allows: on CPU a
    fresh buffer can cost more in page faults than the arithmetic in it.
    """
    if clip > 0:
        s, q = _sigmoid_pair(x) if with_grad else (torch.sigmoid(x), None)
        p_m = s.sub(clip).clamp_(min=0)
        loss = torch.neg(p_m).log1p_().neg_()              # log(1/r), before the weight
        grad = None
        if with_grad:                                      # the derivative / w, built in place
            grad = q.add(clip).reciprocal_()               # 1/r
            if not detach:
                p_m_safe = p_m.clamp(min=torch.finfo(x.dtype).tiny)
                _add_quotient_(grad, loss, p_m_safe, gamma_neg)
            grad.mul_(s).mul_(q)                           # * ds/dx = s * q
        w = _margin_weight(p_m, gamma_neg)
        return loss.mul_(w), None if grad is None else grad.mul_(w)
    s, q = _sigmoid_pair(x) if with_grad and not detach else (torch.sigmoid(x), None)
    # log-sigmoid form; beyond the threshold softplus(x) == x to the dtype's precision
    threshold = 20.0 if x.dtype == torch.float32 else 40.0
    w = _pow(s, gamma_neg, lambda: F.logsigmoid(x))
    loss = F.softplus(x, threshold=threshold).mul_(w)
    if not with_grad:
        return loss, None
    grad = w.mul_(s)                                       # s*q/r * p^gn with r == q
    if not detach:
        _add_product_(grad, q, loss, gamma_neg)            # + gn * q * loss
    return loss, grad


def _weighted(term: Tensor, weight: Optional[Tensor], reduce: bool) -> Tensor:
    """``term * weight`` (in place), or with ``reduce`` its sum as a 0-d tensor.

    ``weight`` is None or broadcasts to ``term``: (N, 1), or (N, C) for an (N, C) term. Eager, an
    (N, 1) weight of an (N, C) term is applied to the row sums: one pass over the term, not two.
    """
    if not reduce:
        return term if weight is None else term.mul_(weight)
    if weight is None:
        return term.sum()
    if weight.size(1) == 1 and term.size(1) > 1 and not torch.compiler.is_compiling():
        return term.sum(1).mul_(weight.view(-1)).sum()
    return term.mul_(weight).sum()


def _asl_loss_and_grad(logits: Tensor, target: Tensor, weight: Optional[Tensor], gamma_pos,
                       gamma_neg, clip: float, alpha: Optional[float],
                       detach_focal_weight: bool, with_grad: bool,
                       reduce: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Weighted ASL (elementwise or summed) and (if ``with_grad``) its derivative in the logits.

    Args:
        logits: (N, C) raw scores, any floating dtype (computed in float32; float64 stays).
        target: (N,) integer labels in [0, C] (C = background) or (N, C) targets in [0, 1].
        weight: None, or (N, 1) / (N, C) weights in the compute dtype.
        gamma_pos, gamma_neg: focusing exponents (>= 0), numbers or 0-d tensors.
        clip: probability margin m in [0, 1) (a Python float: m == 0 selects another formula).
        alpha: weight of the positive term (negatives get 1 - alpha), or None for no weighting.
        detach_focal_weight: leave the gradient through ``(1-p)^gamma_pos`` and
            ``p_m^gamma_neg`` out (the paper code's ``disable_torch_grad_focal_loss``).
        with_grad: also return the derivative (else None).
        reduce: return the sum of the weighted loss (0-d) instead of the (N, C) weighted loss.

    Returns:
        ``(loss, grad)``: loss 0-d or (N, C); grad (N, C) = d(loss)/d(logits), weight included.

    Integer labels: the negative term everywhere, then each row's labelled class recomputed from
    its logit alone: the positive term replaces the negative one there, by a scatter of N values
    into the elementwise loss and the derivative, and by an (N,) correction of the summed loss.
    (A non-finite negative term at a labelled class, possible only for ``clip == 0`` and an
    infinite logit, makes the sum NaN.)
    """
    x = _compute_dtype(logits)
    detach = detach_focal_weight
    a_pos, a_neg = _class_weights(alpha)

    def scaled(term, factor):
        return term if alpha is None else term.mul_(factor)

    neg = _negative_term(x, gamma_neg, clip, with_grad, detach)
    if target.dim() == 1:
        num_classes = x.size(1)
        index = target.clamp(max=num_classes - 1).long().unsqueeze(1)
        labelled = x.gather(1, index)
        foreground = (target < num_classes).unsqueeze(1)
        pos = _positive_term(labelled, gamma_pos, with_grad, detach)
        neg_labelled = _negative_term(labelled, gamma_neg, clip, with_grad, detach)
        # each row's labelled class: the negative term's value (which the dense term holds
        # there) and its true value, positive for foreground rows
        neg_values = [None if n is None else scaled(n, a_neg) for n in neg_labelled]
        values = [None if n is None else torch.where(foreground, scaled(p, a_pos), n)
                  for p, n in zip(pos, neg_values)]
        dense_loss, dense_grad = (None if d is None else scaled(d, a_neg) for d in neg)
        row_weight = weight if weight is None or weight.size(1) == 1 else weight.gather(1, index)
        values, neg_values = ([None if v is None else _weighted(v, row_weight, reduce=False)
                               for v in vs] for vs in (values, neg_values))
        # weighted before the scatter, so that the compiled dense kernel holds the weighting
        if reduce:  # sum of the dense term, corrected at the labelled classes: no (N, C) pass
            loss = (_weighted(dense_loss, weight, reduce=True)
                    + (values[0] - neg_values[0]).sum())
        else:
            loss = _weighted(dense_loss, weight, reduce=False).scatter_(1, index, values[0])
        grad = None if dense_grad is None else _weighted(
            dense_grad, weight, reduce=False).scatter_(1, index, values[1])
        return loss, grad
    y = target.to(x.dtype)
    pos = _positive_term(x, gamma_pos, with_grad, detach)
    loss, grad = (None if n is None else  # lerp is exact at y == 0 and y == 1
                  torch.lerp(scaled(n, a_neg), scaled(p, a_pos), y) for n, p in zip(neg, pos))
    return (_weighted(loss, weight, reduce),
            None if grad is None else _weighted(grad, weight, reduce=False))


@functools.lru_cache(maxsize=None)
def _compiled_loss_and_grad():
    """``torch.compile`` of :func:`_asl_loss_and_grad`, built once per process.

    Static shapes except the number of priors, which :func:`_mark_num_priors_dynamic` marks on
    each call: one graph serves every N. Python numbers are graph constants, so an integral
    gamma becomes a chain of multiplications; a non-integral one enters as a 0-d tensor
    (:func:`_compiled_exponent`), so the adaptive-asymmetry hook's updates reuse one graph.
    """
    return torch.compile(_asl_loss_and_grad, dynamic=False)


def _compiled_exponent(gamma: float, logits: Tensor):
    """``gamma`` for the compiled path: an int when integral (a graph constant: a graph per
    value), else a 0-d tensor of the compute dtype on the device of ``logits`` (one graph for all
    values)."""
    if float(gamma).is_integer():
        return int(gamma)
    return torch.as_tensor(gamma, dtype=compute_dtype(logits.dtype), device=logits.device)


def _mark_num_priors_dynamic(*tensors: Optional[Tensor]) -> None:
    """Let the compiled graph take any size of dim 0 (N) of these tensors without a recompile."""
    for tensor in tensors:
        if tensor is not None:
            torch._dynamo.maybe_mark_dynamic(tensor, 0)


class AsymmetricLossFunction(torch.autograd.Function):
    """Weighted ASL with the closed-form derivative of :func:`_asl_loss_and_grad`.

    ``apply(logits (N, C), target (N,) or (N, C), weight None / (N, 1) / (N, C), reduce,
    gamma_pos, gamma_neg, clip, alpha, detach_focal_weight, compiled)`` returns the summed
    weighted loss (0-d) with ``reduce``, else the (N, C) weighted loss, in float32 (float64 for
    float64 logits). When the logits need a gradient, the forward pass also computes
    d(loss)/d(logits) from the same intermediates and saves it (one (N, C) tensor); the backward
    pass multiplies it by the incoming gradient. Target and weight are constants here (no
    gradient flows into them).
    """

    @staticmethod
    def forward(ctx, logits, target, weight, reduce, gamma_pos, gamma_neg, clip, alpha,
                detach_focal_weight, compiled):
        with_grad = ctx.needs_input_grad[0]
        fn = _asl_loss_and_grad
        if compiled and logits.numel() > 0:
            fn = _compiled_loss_and_grad()
            gamma_pos = _compiled_exponent(gamma_pos, logits)
            gamma_neg = _compiled_exponent(gamma_neg, logits)
            _mark_num_priors_dynamic(logits, target, weight)
        loss, grad = fn(logits, target, weight, gamma_pos, gamma_neg, clip, alpha,
                        detach_focal_weight, with_grad, reduce)
        if with_grad:
            ctx.save_for_backward(grad)
            ctx.logits_dtype = logits.dtype
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        grad, = ctx.saved_tensors
        return ((grad * grad_loss).to(ctx.logits_dtype),) + (None,) * 9


def asl_prob_forward(prob: Tensor, target: Tensor, gamma_pos: float, gamma_neg: float,
                     clip: float, alpha: Optional[float], eps: float,
                     detach_focal_weight: bool) -> Tensor:
    """Elementwise ASL for probabilities (``activated=True``), differentiated by autograd.

    Args:
        prob: (N, C) probabilities in [0, 1]; logs are clamped at ``eps`` as in the paper's code.
        Other arguments as in :func:`_asl_loss_and_grad`.

    Returns:
        (N, C) float32 loss (float64 for float64 input).
    """
    p = _compute_dtype(prob)
    y = _expand_target(target, p.size(1), p.dtype)
    a_pos, a_neg = _class_weights(alpha)
    p_m = (p - clip).clamp(min=0)
    w_pos = (1 - p).pow(gamma_pos)
    w_neg = p_m.pow(gamma_neg)
    if detach_focal_weight:
        w_pos, w_neg = w_pos.detach(), w_neg.detach()
    loss_pos = w_pos * torch.log(p.clamp(min=eps))
    loss_neg = w_neg * torch.log((1 - p_m).clamp(min=eps))
    return -(y * (a_pos * loss_pos) + (1 - y) * (a_neg * loss_neg))
