"""The loss terms of logits (``p = sigmoid(x)``) and their closed-form derivatives in ``x``, in
log-sigmoid form: neither the loss nor its gradient saturates for large logits."""
import torch
import torch.nn.functional as F
from torch import Tensor

from .elementwise_ops import OpSet
from .hyper_parameters import AslHyperParameters
from .loss_term import LossTerm, TermSet


def logit_positive_term(x: Tensor, hyper: AslHyperParameters, with_grad: bool,
                        ops: OpSet) -> LossTerm:
    """``L+ = -q^gamma_pos * log(p)`` of logits ``x`` and its derivative in ``x``.

    d/dx = -q^(gp+1) + gp * p * q^gp * log(p) = -q^(gp+1) - gp * p * L+; the second part (the
    gradient through the focusing weight) is left out with ``hyper.detach``.
    """
    q = torch.sigmoid(-x)
    focal_weight = ops.power(q, hyper.gamma_pos, lambda: F.logsigmoid(-x))
    loss = -(focal_weight * F.logsigmoid(x))
    if not with_grad:
        return LossTerm(loss, None)
    grad = -(focal_weight * q)
    if not hyper.detach:
        grad = grad - hyper.gamma_pos * torch.sigmoid(x) * loss
    return LossTerm(loss, grad)


def logit_quality_term(x: Tensor, score: Tensor, hyper: AslHyperParameters, with_grad: bool,
                       ops: OpSet) -> LossTerm:
    """``Lq = BCE(x, s) * |s - p|^gamma_pos`` of logits ``x`` and its derivative in ``x``.

    With d = p - s, w = |d|^gp, b = BCE(x, s) = s * softplus(-x) + (1 - s) * softplus(x)::

        d/dx = d * w + gp * b * w * p * q / d

    (the second part, through the focusing weight, left out with ``hyper.detach`` and taken as
    0 where d == 0). ``d`` is formed as ``(1 - s) - q`` for s >= 1/2 and ``p - s`` below, so
    that s = 1 gives exactly ``-q`` and s = 0 exactly ``p``: no cancellation at a saturated
    logit. ``x`` and ``score`` are the labelled classes' elements only (N of them).
    """
    p, q = ops.sigmoid_pair(x)
    d = torch.where(score >= 0.5, (1 - score) - q, p - score)
    bce = score * F.softplus(-x) + (1 - score) * F.softplus(x)
    focal_weight = ops.power(d.abs(), hyper.gamma_pos, lambda: torch.log(d.abs()))
    loss = bce * focal_weight
    if not with_grad:
        return LossTerm(loss, None)
    grad = d * focal_weight
    if not hyper.detach:
        grad = grad + hyper.gamma_pos * loss * p * torch.where(d != 0, q / d, 0.0)
    return LossTerm(loss, grad)


def logit_negative_term(x: Tensor, hyper: AslHyperParameters, with_grad: bool,
                        ops: OpSet) -> LossTerm:
    """``L- = -p_m^gamma_neg * log(1 - p_m)`` of logits ``x`` and its derivative in ``x``.

    Below the margin (p_m == 0) loss and derivative are exactly 0. ``clip == 0`` takes the
    softplus form (:func:`_logit_negative_term_without_margin`).
    """
    if hyper.clip == 0:
        return _logit_negative_term_without_margin(x, hyper, with_grad, ops)
    return _logit_negative_term_with_margin(x, hyper, with_grad, ops)


def _logit_negative_term_with_margin(x: Tensor, hyper: AslHyperParameters, with_grad: bool,
                                     ops: OpSet) -> LossTerm:
    """:func:`logit_negative_term` for ``clip > 0``.

    With r = 1 - p_m (= q + clip where p_m > 0), w = p_m^gn, where p_m > 0::

        d/dx = p*q * (w / r - gn * p_m^(gn-1) * log r)  =  p*q * w * (1/r + gn * log(1/r) / p_m)

    the second part (through the focusing weight) left out with ``hyper.detach``.
    Cancellation-free: ``log(1/r) = -log1p(-p_m)``, ``r = q + clip`` with ``q = sigmoid(-x)``,
    so the float32 derivative keeps its relative precision for saturated negatives (p near 1)
    and near the margin. The hot path of the default loss: each (N, C) temporary is allocated
    once and then updated in place.
    """
    p, q = ops.sigmoid_pair(x) if with_grad else (torch.sigmoid(x), None)
    p_m = (p - hyper.clip).clamp_(min=0)
    log_inv_r = torch.neg(p_m).log1p_().neg_()             # log(1/r) = -log(1 - p_m)
    grad = None
    if with_grad:                                          # d/dx / w, built in place
        grad = (q + hyper.clip).reciprocal_()              # 1/r
        if not hyper.detach:
            p_m_safe = p_m.clamp(min=torch.finfo(x.dtype).tiny)
            ops.add_quotient_(grad, log_inv_r, p_m_safe, hyper.gamma_neg)
        grad.mul_(p).mul_(q)                               # * dp/dx = p * q
    focal_weight = ops.margin_weight_(p_m, hyper.gamma_neg)  # p_m is not used after this
    loss = log_inv_r.mul_(focal_weight)
    return LossTerm(loss, None if grad is None else grad.mul_(focal_weight))


def _logit_negative_term_without_margin(x: Tensor, hyper: AslHyperParameters, with_grad: bool,
                                        ops: OpSet) -> LossTerm:
    """:func:`logit_negative_term` for ``clip == 0``: ``p^gn * softplus(x)``.

    d/dx = p^gn * p + gn * q * L- (the second part, through the focusing weight, left out with
    ``hyper.detach``). Beyond softplus's threshold ``softplus(x) == x`` to the dtype's precision.
    """
    p, q = (ops.sigmoid_pair(x) if with_grad and not hyper.detach
            else (torch.sigmoid(x), None))
    threshold = 20.0 if x.dtype == torch.float32 else 40.0
    focal_weight = ops.power(p, hyper.gamma_neg, lambda: F.logsigmoid(x))
    loss = F.softplus(x, threshold=threshold).mul_(focal_weight)
    if not with_grad:
        return LossTerm(loss, None)
    grad = focal_weight.mul_(p)                            # focal_weight is not used after this
    if not hyper.detach:
        ops.add_product_(grad, q, loss, hyper.gamma_neg)
    return LossTerm(loss, grad)


LOGIT_TERMS = TermSet(logit_positive_term, logit_quality_term, logit_negative_term, torch.sigmoid)
"""The terms of logits, as :func:`~.target_combination.asl_loss_and_grad` takes them."""
