"""Elementwise Asymmetric Loss math: one closed-form loss and derivative, eager or compiled.

For a logit ``x``, target ``y`` in [0, 1] and ``p = sigmoid(x)`` (ASL paper, eq. 6-7)::

    loss = -y * a_pos * (1 - p)^gamma_pos * log(p)
           - (1 - y) * a_neg * p_m^gamma_neg * log(1 - p_m),      p_m = max(p - clip, 0)

with ``a_pos = alpha, a_neg = 1 - alpha`` when ``alpha`` is given, else 1. The logs are taken in
log-sigmoid form, so the loss neither saturates nor loses its gradient for large logits.

Each term and its derivative is written once (:func:`_positive_term`, :func:`_negative_term`) and
:func:`_asl_loss_and_grad` combines them; the eager path and the ``torch.compile`` path run that
same function. ``AsymmetricLossFunction`` computes the loss and its local derivative in one pass
over the shared intermediates, saves the derivative, and its backward is a single multiply.
For integer labels the negative term is computed densely and the positive term only at the one
labelled class per row (N elements instead of N x C).
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


def _compute_dtype(logits: Tensor) -> Tensor:
    """``logits`` in float32 (float64 stays float64): low precision never enters the math."""
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


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


def _negative_term(x: Tensor, gamma_neg, clip: float, with_grad: bool,
                   detach: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """``-p_m^gamma_neg * log(1 - p_m)`` elementwise (>= 0) and its derivative in ``x`` (or None).

    With s = sigmoid(x), q = 1 - s, r = 1 - p_m (= q + clip where p_m > 0), w = p_m^gn::

        d/dx = s*q * (w / r - gn * p_m^(gn-1) * log r)  =  s*q * w * (1/r + gn * log(1/r) / p_m)

    where p_m > 0. Below the margin p_m == 0, r == 1 and w == 0, so loss and derivative are
    exactly 0. The second part (the gradient through the focusing weight) is left out when
    ``detach``. With ``clip == 0``, ``log(1 - p)`` is ``-softplus(x)``: no cancellation for large
    logits. Temporaries are updated in place wherever the formula allows (three (N, C) buffers
    for clip > 0): on CPU a fresh buffer can cost more in page faults than the arithmetic in it.
    """
    if clip > 0:
        p_m = torch.sigmoid(x).sub_(clip).clamp_(min=0)
        inv_r = torch.rsub(p_m, 1).reciprocal_()
        loss = torch.log(inv_r)                            # log(1/r) == -log(1 - p_m); w later
        grad = None
        if with_grad:
            grad = inv_r                                   # the derivative / w, built in place
            if not detach:                                 # log(1/r) == 0 where p_m == 0
                _add_quotient_(grad, loss, p_m.clamp_(min=torch.finfo(x.dtype).tiny), gamma_neg)
            s = p_m.add_(clip)                             # sigmoid(x) where it matters
            grad.mul_(s).addcmul_(grad, s, value=-1)       # * ds/dx = s - s^2
            p_m = s.sub_(clip).clamp_(min=0)
        w = _margin_weight(p_m, gamma_neg)
        return loss.mul_(w), None if grad is None else grad.mul_(w)
    s = torch.sigmoid(x)
    # log-sigmoid form; beyond the threshold softplus(x) == x to the dtype's precision
    threshold = 20.0 if x.dtype == torch.float32 else 40.0
    w = _pow(s, gamma_neg, lambda: F.logsigmoid(x))
    loss = F.softplus(x, threshold=threshold).mul_(w)
    if not with_grad:
        return loss, None
    grad = w.mul_(s)                                       # s*q/r * p^gn with r == q
    if not detach:
        _add_product_(grad, s.sub_(1), loss, -gamma_neg)  # + gn * q * loss
    return loss, grad


def _asl_loss_and_grad(logits: Tensor, target: Tensor, gamma_pos, gamma_neg, clip: float,
                       alpha: Optional[float], detach_focal_weight: bool,
                       with_grad: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Elementwise ASL and (if ``with_grad``) d(loss)/d(logits), both (N, C) in compute dtype.

    Args:
        logits: (N, C) raw scores, any floating dtype (computed in float32; float64 stays).
        target: (N,) integer labels in [0, C] (C = background) or (N, C) targets in [0, 1].
        gamma_pos, gamma_neg: focusing exponents (>= 0), numbers or 0-d tensors.
        clip: probability margin m in [0, 1) (a Python float: m == 0 selects another formula).
        alpha: weight of the positive term (negatives get 1 - alpha), or None for no weighting.
        detach_focal_weight: leave the gradient through ``(1-p)^gamma_pos`` and
            ``p_m^gamma_neg`` out (the paper code's ``disable_torch_grad_focal_loss``).
        with_grad: also return the derivative (else None).

    Integer labels: the negative
    term everywhere, then each row's labelled class recomputed from its logit alone (positive
    term for foreground rows, the negative term again for background ones) and scattered in.
    """
    x = _compute_dtype(logits)
    detach = detach_focal_weight
    a_pos, a_neg = _class_weights(alpha)

    def weighted(term, weight):
        return term if alpha is None else term.mul_(weight)

    neg = _negative_term(x, gamma_neg, clip, with_grad, detach)
    if target.dim() == 1:
        num_classes = x.size(1)
        index = target.clamp(max=num_classes - 1).long().unsqueeze(1)
        labelled = x.gather(1, index)
        foreground = (target < num_classes).unsqueeze(1)
        pos = _positive_term(labelled, gamma_pos, with_grad, detach)
        neg_labelled = _negative_term(labelled, gamma_neg, clip, with_grad, detach)
        return tuple(None if dense is None else weighted(dense, a_neg).scatter_(
            1, index, torch.where(foreground, weighted(p, a_pos), weighted(n, a_neg)))
            for dense, p, n in zip(neg, pos, neg_labelled))
    y = target.to(x.dtype)
    pos = _positive_term(x, gamma_pos, with_grad, detach)
    return tuple(None if n is None else  # lerp is exact at y == 0 and y == 1
                 torch.lerp(weighted(n, a_neg), weighted(p, a_pos), y) for n, p in zip(neg, pos))


@functools.lru_cache(maxsize=None)
def _compiled_loss_and_grad():
    """``torch.compile`` of :func:`_asl_loss_and_grad`, built once per process.

    ``dynamic=True`` keeps one graph for every number of priors N. Pass the gammas as 0-d
    tensors (:func:`_exponent`): dynamo specialises a Python float used as a ``pow`` exponent
    (guard ``gamma == value``), which would recompile at every adaptive-asymmetry update.
    """
    return torch.compile(_asl_loss_and_grad, dynamic=True)


def _exponent(gamma, logits: Tensor) -> Tensor:
    """``gamma`` as a 0-d tensor of the compute dtype on the device of ``logits``."""
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    if isinstance(gamma, Tensor):
        return gamma.to(device=logits.device, dtype=dtype)
    return torch.full((), gamma, dtype=dtype, device=logits.device)


class AsymmetricLossFunction(torch.autograd.Function):
    """Elementwise ASL with the closed-form derivative of :func:`_asl_loss_and_grad`.

    ``apply(logits (N, C), target (N,) or (N, C), gamma_pos, gamma_neg, clip, alpha,
    detach_focal_weight, compiled)`` returns the (N, C) float32 loss. When the logits need a
    gradient, the forward pass also computes d(loss)/d(logits) from the same intermediates and
    saves it (one (N, C) float32 tensor); the backward pass multiplies it by the incoming
    gradient. The target is treated as a constant (no gradient flows into soft targets).
    """

    @staticmethod
    def forward(ctx, logits, target, gamma_pos, gamma_neg, clip, alpha, detach_focal_weight,
                compiled):
        with_grad = ctx.needs_input_grad[0]
        if compiled:
            fn = _compiled_loss_and_grad()
            gamma_pos, gamma_neg = _exponent(gamma_pos, logits), _exponent(gamma_neg, logits)
        else:
            fn = _asl_loss_and_grad
        loss, grad = fn(logits, target, gamma_pos, gamma_neg, clip, alpha, detach_focal_weight,
                        with_grad)
        if with_grad:
            ctx.save_for_backward(grad)
            ctx.logits_dtype = logits.dtype
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        grad, = ctx.saved_tensors
        return (grad * grad_loss).to(ctx.logits_dtype), None, None, None, None, None, None, None


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
    p = prob.float() if prob.dtype != torch.float64 else prob
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
