"""The loss terms of probabilities (``activated``: the input is ``p`` itself) and their
closed-form derivatives in ``p``, logs clamped at ``eps`` as in the paper's code."""
import torch
from torch import Tensor

from .elementwise_ops import OpSet
from .hyper_parameters import AslHyperParameters
from .loss_term import LossTerm, TermSet


def _clamped_log(p: Tensor, eps: float) -> Tensor:
    """``log(max(p, eps))`` (<= 0 for p <= 1)."""
    return p.clamp(min=eps).log_()


def _clamped_log_derivative(p: Tensor, eps: float) -> Tensor:
    """d/dp ``log(max(p, eps))``: ``1 / p`` where ``p > eps``, else 0."""
    return torch.where(p > eps, p.reciprocal(), 0.0)


def prob_positive_term(p: Tensor, hyper: AslHyperParameters, with_grad: bool,
                       ops: OpSet) -> LossTerm:
    """``L+ = -q^gamma_pos * log(max(p, eps))`` of probabilities ``p``, and d/dp.

    d/dp = -w * [p > eps] / p + gp * w * log(max(p, eps)) / q, w = q^gp (the second part,
    through the focusing weight, left out with ``hyper.detach`` and taken as 0 at q == 0).
    """
    q = 1 - p
    log_p = _clamped_log(p, hyper.eps)
    focal_weight = ops.power(q, hyper.gamma_pos)
    loss = -focal_weight * log_p
    if not with_grad:
        return LossTerm(loss, None)
    grad = -focal_weight * _clamped_log_derivative(p, hyper.eps)
    if not hyper.detach:
        grad = grad - hyper.gamma_pos * loss * torch.where(q > 0, q.reciprocal(), 0.0)
    return LossTerm(loss, grad)


def prob_quality_term(p: Tensor, score: Tensor, hyper: AslHyperParameters, with_grad: bool,
                      ops: OpSet) -> LossTerm:
    """``Lq = BCE(p, s) * |s - p|^gamma_pos`` of probabilities ``p`` (logs clamped at eps),
    and d/dp.

    With d = p - s, w = |d|^gp, b = -(s * log(max(p, eps)) + (1 - s) * log(max(1 - p, eps)))::

        d/dp = b' * w + gp * b * w / d,    b' = -s * [p > eps] / p + (1 - s) * [q > eps] / q

    (the second part left out with ``hyper.detach`` and taken as 0 where d == 0).
    """
    eps = hyper.eps
    q = 1 - p
    d = p - score
    bce = -(score * _clamped_log(p, eps) + (1 - score) * _clamped_log(q, eps))
    focal_weight = ops.power(d.abs(), hyper.gamma_pos)
    loss = bce * focal_weight
    if not with_grad:
        return LossTerm(loss, None)
    bce_grad = ((1 - score) * _clamped_log_derivative(q, eps)
                - score * _clamped_log_derivative(p, eps))
    grad = bce_grad * focal_weight
    if not hyper.detach:
        grad = grad + hyper.gamma_pos * loss * torch.where(d != 0, d.reciprocal(), 0.0)
    return LossTerm(loss, grad)


def prob_negative_term(p: Tensor, hyper: AslHyperParameters, with_grad: bool,
                       ops: OpSet) -> LossTerm:
    """``L- = -p_m^gamma_neg * log(max(1 - p_m, eps))`` of probabilities ``p``, and d/dp.

    With r = 1 - p_m, w = p_m^gn, where p_m > 0::

        d/dp = w * ([r > eps] / r + gn * (-log(max(r, eps))) / p_m)

    (the second part, through the focusing weight, left out with ``hyper.detach``). Below the
    margin loss and derivative are exactly 0.
    """
    p_m = (p - hyper.clip).clamp_(min=0)
    r = 1 - p_m
    neg_log_r = _clamped_log(r, hyper.eps).neg_()          # -log(max(r, eps))
    grad = None
    if with_grad:                                          # d/dp / w
        grad = _clamped_log_derivative(r, hyper.eps)
        if not hyper.detach:
            p_m_safe = p_m.clamp(min=torch.finfo(p.dtype).tiny)
            ops.add_quotient_(grad, neg_log_r, p_m_safe, hyper.gamma_neg)
    focal_weight = (ops.power(p_m, hyper.gamma_neg) if hyper.clip == 0  # no margin: 0^0 = 1
                    else ops.margin_weight_(p_m, hyper.gamma_neg))  # p_m not used after this
    loss = neg_log_r.mul_(focal_weight)
    return LossTerm(loss, None if grad is None else grad.mul_(focal_weight))


def _identity(p: Tensor) -> Tensor:
    return p


PROBABILITY_TERMS = TermSet(prob_positive_term, prob_quality_term, prob_negative_term, _identity)
"""The terms of probabilities, as :func:`~.target_combination.asl_loss_and_grad` takes them."""
