"""Elementwise Asymmetric Loss: the loss and its closed-form derivative, eager or compiled.

For ``p`` the probability of an element (``sigmoid(x)`` of a logit ``x``, or the input itself
with ``activated``), ``q = 1 - p`` and ``p_m = max(p - clip, 0)`` (ASL paper, eq. 6-7; the
quality form after GFL's QualityFocalLoss)::

    positive (binary target 1):   L+ = -q^gamma_pos * log(p)
    positive (quality score s):   Lq = BCE(p, s) * |s - p|^gamma_pos
    negative:                     L- = -p_m^gamma_neg * log(1 - p_m)

``alpha`` (when given) multiplies positive terms, ``1 - alpha`` negative ones. On logits the
logs are taken in log-sigmoid form, so neither the loss nor its gradient saturates for large
logits; on probabilities they are clamped at ``eps``, as in the paper's code.

How the target combines the terms (:func:`asl_loss_and_grad`):

- (N, C) soft target ``y``: ``y * L+ + (1 - y) * L-`` everywhere;
- (N,) integer labels: ``L-`` everywhere, but ``L+`` at the labelled class of foreground rows;
- ``(labels (N,), scores (N,))``: the same with ``Lq`` (score ``s``) at the labelled class.

With ``reject_above = t`` (:func:`rejected_negative_`; off when None), a negative element with
``p > t`` costs ``mirror_weight * a_neg * L+`` instead of ``L-`` (0 for ``mirror_weight == 0``).

The labelled classes are handled by recomputing N gathered elements, never a dense (N, C)
positive term. The forward pass computes the derivative in the input from the same
intermediates; :class:`AsymmetricLossFunction` saves it, and its backward pass is one multiply.

The terms come in two explicit sets, :data:`LOGIT_TERMS` and :data:`PROBABILITY_TERMS`, and run
on one of two explicit sets of elementwise building blocks: :class:`EagerOps` (ATen kernels) or
:class:`CompiledOps` (traced by ``torch.compile`` into one fused kernel). Functions return new
tensors, except on the dense (N, C) negative term and its combination with the target, where a
fresh buffer per step costs more on CPU (page faults) than the arithmetic in it: there a
temporary is updated in place, and the functions that do so end in ``_`` and say what they
overwrite. :func:`~asl_det.models.losses.py_asymmetric_loss` is the plain-autograd reference all
of this is tested against.

The default path (logits, integer labels, ``clip > 0``, eager): :class:`AsymmetricLossFunction`
-> :func:`asl_loss_and_grad` -> :func:`logit_negative_term` over (N, C) and
:func:`logit_positive_term` at the N labelled classes -> :func:`_labelled_class_combination`.
"""
import functools
from typing import Callable, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from .loss_inputs import Target

Exponent = Union[float, int, Tensor]
"""A focusing exponent: a float (eager), an int or a 0-d tensor (compiled)."""


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the loss is computed in for inputs of ``dtype``: float64 for float64, else
    float32, so low precision never enters the math."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class Hyper(NamedTuple):
    """The loss's hyper-parameters (validated by the caller)."""

    gamma_pos: Exponent
    gamma_neg: Exponent
    clip: float                # a Python float: clip == 0 selects another formula on logits
    alpha: Optional[float]     # positives weighted by alpha, negatives by 1 - alpha; None: 1, 1
    detach: bool               # leave the gradient through the focusing weights out
    eps: float                 # log clamp of the probability terms
    reject_above: Optional[float] = None  # negatives with p above it are rejected; None: off
    mirror_weight: float = 0.0  # a rejected negative costs mirror_weight * a_neg * L+ (0: none)

    def class_weights(self) -> Tuple[float, float]:
        """``(a_pos, a_neg)``."""
        return (1.0, 1.0) if self.alpha is None else (self.alpha, 1.0 - self.alpha)


class Term(NamedTuple):
    """An elementwise loss term and its derivative in the input (None when not needed)."""

    loss: Tensor
    grad: Optional[Tensor]

    def times(self, factor: Union[float, Tensor, None]) -> 'Term':
        """The term times ``factor``: a number, or a tensor that broadcasts to it (None and 1:
        the term itself)."""
        if factor is None or (not isinstance(factor, Tensor) and factor == 1):
            return self
        return Term(self.loss * factor, None if self.grad is None else self.grad * factor)

    def where(self, condition: Tensor, other: 'Term') -> 'Term':
        """Elementwise ``self`` where ``condition``, else ``other``."""
        grad = None if self.grad is None else torch.where(condition, self.grad, other.grad)
        return Term(torch.where(condition, self.loss, other.loss), grad)


def _weighted_(tensor: Tensor, weight: Optional[Tensor]) -> Tensor:
    """``tensor * weight``, overwriting ``tensor`` (an (N, C) temporary; None: unchanged)."""
    return tensor if weight is None else tensor.mul_(weight)


# ---------------------------------------------------------------- elementwise building blocks

class EagerOps:
    """Building blocks of the eager path: ATen kernels, Python-number exponents, in place."""

    @staticmethod
    def sigmoid_pair(x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(sigmoid(x), sigmoid(-x))``, each without cancellation (never ``1 - sigmoid``)."""
        return torch.sigmoid(x), torch.neg(x).sigmoid_()

    @staticmethod
    def power(base: Tensor, exponent: float,
              log_base: Optional[Callable[[], Tensor]] = None) -> Tensor:
        """``base ** exponent`` as a new tensor (``log_base`` is for :class:`CompiledOps`).
        An integral exponent above 3 by repeated squaring: ATen special-cases 2 and 3 only, and
        4 is the default ``gamma_neg``."""
        if _squares(exponent) and exponent % 2 == 0:
            return EagerOps.power(base, exponent // 2).square_()
        if _squares(exponent):
            return EagerOps.power(base, exponent - 1).mul_(base)
        return base.pow(exponent)

    @staticmethod
    def margin_weight_(p_m: Tensor, exponent: float) -> Tensor:
        """``p_m ** exponent``, with ``0 ** 0`` taken as 0 (exactly zero below the margin
        whatever the exponent), computed in ``p_m``'s storage: overwrites ``p_m``."""
        if exponent == 0:
            return p_m.sign_()
        if _squares(exponent) and exponent % 2 == 0:
            return EagerOps.margin_weight_(p_m, exponent // 2).square_()
        return p_m.pow_(exponent)

    @staticmethod
    def add_product_(out: Tensor, a: Tensor, b: Tensor, scale: float) -> Tensor:
        """``out += scale * a * b`` in place."""
        return out.addcmul_(a, b, value=scale)

    @staticmethod
    def add_quotient_(out: Tensor, num: Tensor, den: Tensor, scale: float) -> Tensor:
        """``out += scale * num / den`` in place."""
        return out.addcdiv_(num, den, value=scale)

    @staticmethod
    def weighted_sum(term: Tensor, weight: Optional[Tensor]) -> Tensor:
        """``sum(term * weight)`` (0-d); an (N, 1) weight is applied to the row sums, one pass
        over the (N, C) term instead of two. Overwrites ``term`` for an (N, C) weight."""
        if weight is None:
            return term.sum()
        if weight.size(1) == 1 and term.size(1) > 1:
            return term.sum(1).mul_(weight.view(-1)).sum()
        return term.mul_(weight).sum()


class CompiledOps:
    """Building blocks traced by ``torch.compile`` into one fused kernel.

    Exponents are ints (graph constants: a chain of multiplications, a graph per value) or 0-d
    tensors (one graph for every value, computed as ``exp(exponent * log(base))``, a third of
    the cost of inductor's ``pow`` with a tensor exponent).
    """

    @staticmethod
    def sigmoid_pair(x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(sigmoid(x), sigmoid(-x))`` from one ``exp(-|x|)``: a single transcendental."""
        e = torch.exp(-x.abs())
        t = torch.reciprocal(1 + e)
        et = e * t
        non_negative = x >= 0
        return torch.where(non_negative, t, et), torch.where(non_negative, et, t)

    @staticmethod
    def power(base: Tensor, exponent: Union[int, Tensor],
              log_base: Optional[Callable[[], Tensor]] = None) -> Tensor:
        """``base ** exponent`` (``base >= 0``); ``log_base()`` gives a cancellation-free
        ``log(base)`` where there is one. A tensor exponent is never 0 (integral values come as
        ints), so ``exp(exponent * -inf) = 0`` at a zero base is right."""
        if isinstance(exponent, int):
            return EagerOps.power(base, exponent)
        return torch.exp((torch.log(base) if log_base is None else log_base()) * exponent)

    @staticmethod
    def margin_weight_(p_m: Tensor, exponent: Union[int, Tensor]) -> Tensor:
        """``p_m ** exponent`` with ``0 ** 0`` taken as 0; may overwrite ``p_m`` (the compiled
        kernel holds no temporaries either way)."""
        if isinstance(exponent, int):
            return EagerOps.margin_weight_(p_m, exponent)
        return torch.where(p_m > 0, CompiledOps.power(p_m, exponent), 0.0)

    @staticmethod
    def add_product_(out: Tensor, a: Tensor, b: Tensor, scale: Exponent) -> Tensor:
        """``out += scale * a * b``."""
        return out.add_(a * b * scale)

    @staticmethod
    def add_quotient_(out: Tensor, num: Tensor, den: Tensor, scale: Exponent) -> Tensor:
        """``out += scale * num / den``."""
        return out.add_(num / den * scale)

    @staticmethod
    def weighted_sum(term: Tensor, weight: Optional[Tensor]) -> Tensor:
        """``sum(term * weight)`` (0-d), fused into the kernel that computes ``term``."""
        return term.sum() if weight is None else term.mul_(weight).sum()


Ops = type
""":class:`EagerOps` or :class:`CompiledOps` (the class itself)."""


def _squares(exponent: float) -> bool:
    """Whether :class:`EagerOps` computes ``** exponent`` by squaring (integral, above 3)."""
    return exponent > 3 and float(exponent).is_integer()


# ---------------------------------------------------------------- terms of logits

def logit_positive_term(x: Tensor, hyper: Hyper, with_grad: bool, ops: Ops) -> Term:
    """``L+ = -q^gamma_pos * log(p)`` of logits ``x`` and its derivative in ``x``.

    d/dx = -q^(gp+1) + gp * p * q^gp * log(p) = -q^(gp+1) - gp * p * L+; the second part (the
    gradient through the focusing weight) is left out with ``hyper.detach``.
    """
    q = torch.sigmoid(-x)
    focal_weight = ops.power(q, hyper.gamma_pos, lambda: F.logsigmoid(-x))
    loss = -(focal_weight * F.logsigmoid(x))
    if not with_grad:
        return Term(loss, None)
    grad = -(focal_weight * q)
    if not hyper.detach:
        grad = grad - hyper.gamma_pos * torch.sigmoid(x) * loss
    return Term(loss, grad)


def logit_quality_term(x: Tensor, score: Tensor, hyper: Hyper, with_grad: bool,
                       ops: Ops) -> Term:
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
        return Term(loss, None)
    grad = d * focal_weight
    if not hyper.detach:
        grad = grad + hyper.gamma_pos * loss * p * torch.where(d != 0, q / d, 0.0)
    return Term(loss, grad)


def logit_negative_term(x: Tensor, hyper: Hyper, with_grad: bool, ops: Ops) -> Term:
    """``L- = -p_m^gamma_neg * log(1 - p_m)`` of logits ``x`` and its derivative in ``x``.

    Below the margin (p_m == 0) loss and derivative are exactly 0. ``clip == 0`` takes the
    softplus form (:func:`_logit_negative_term_without_margin`).
    """
    if hyper.clip == 0:
        return _logit_negative_term_without_margin(x, hyper, with_grad, ops)
    return _logit_negative_term_with_margin(x, hyper, with_grad, ops)


def _logit_negative_term_with_margin(x: Tensor, hyper: Hyper, with_grad: bool,
                                     ops: Ops) -> Term:
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
    return Term(loss, None if grad is None else grad.mul_(focal_weight))


def _logit_negative_term_without_margin(x: Tensor, hyper: Hyper, with_grad: bool,
                                        ops: Ops) -> Term:
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
        return Term(loss, None)
    grad = focal_weight.mul_(p)                            # focal_weight is not used after this
    if not hyper.detach:
        ops.add_product_(grad, q, loss, hyper.gamma_neg)
    return Term(loss, grad)


# ---------------------------------------------------------------- terms of probabilities

def _clamped_log(p: Tensor, eps: float) -> Tensor:
    """``log(max(p, eps))`` (<= 0 for p <= 1)."""
    return p.clamp(min=eps).log_()


def _clamped_log_derivative(p: Tensor, eps: float) -> Tensor:
    """d/dp ``log(max(p, eps))``: ``1 / p`` where ``p > eps``, else 0."""
    return torch.where(p > eps, p.reciprocal(), 0.0)


def prob_positive_term(p: Tensor, hyper: Hyper, with_grad: bool, ops: Ops) -> Term:
    """``L+ = -q^gamma_pos * log(max(p, eps))`` of probabilities ``p``, and d/dp.

    d/dp = -w * [p > eps] / p + gp * w * log(max(p, eps)) / q, w = q^gp (the second part,
    through the focusing weight, left out with ``hyper.detach`` and taken as 0 at q == 0).
    """
    q = 1 - p
    log_p = _clamped_log(p, hyper.eps)
    focal_weight = ops.power(q, hyper.gamma_pos)
    loss = -focal_weight * log_p
    if not with_grad:
        return Term(loss, None)
    grad = -focal_weight * _clamped_log_derivative(p, hyper.eps)
    if not hyper.detach:
        grad = grad - hyper.gamma_pos * loss * torch.where(q > 0, q.reciprocal(), 0.0)
    return Term(loss, grad)


def prob_quality_term(p: Tensor, score: Tensor, hyper: Hyper, with_grad: bool,
                      ops: Ops) -> Term:
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
        return Term(loss, None)
    bce_grad = ((1 - score) * _clamped_log_derivative(q, eps)
                - score * _clamped_log_derivative(p, eps))
    grad = bce_grad * focal_weight
    if not hyper.detach:
        grad = grad + hyper.gamma_pos * loss * torch.where(d != 0, d.reciprocal(), 0.0)
    return Term(loss, grad)


def prob_negative_term(p: Tensor, hyper: Hyper, with_grad: bool, ops: Ops) -> Term:
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
    focal_weight = ops.margin_weight_(p_m, hyper.gamma_neg)  # p_m is not used after this
    loss = neg_log_r.mul_(focal_weight)
    return Term(loss, None if grad is None else grad.mul_(focal_weight))


class Terms(NamedTuple):
    """The three terms for one kind of input: ``f(input, hyper, with_grad, ops) -> Term``
    (``quality`` takes the (N, 1) scores after the input), and ``probability(input) -> p``."""

    positive: Callable[..., Term]
    quality: Callable[..., Term]
    negative: Callable[..., Term]
    probability: Callable[[Tensor], Tensor]


def _identity(p: Tensor) -> Tensor:
    return p


LOGIT_TERMS = Terms(logit_positive_term, logit_quality_term, logit_negative_term, torch.sigmoid)
PROBABILITY_TERMS = Terms(prob_positive_term, prob_quality_term, prob_negative_term, _identity)


# ---------------------------------------------------------------- rejection of confident negatives

def rejected_negative_(negative: Term, x: Tensor, hyper: Hyper, terms: Terms, with_grad: bool,
                       ops: Ops, positive: Optional[Term] = None) -> Term:
    """The negative term with ``hyper.reject_above`` applied: ``negative`` itself when it is
    None (the default path, unchanged).

    Where ``p > reject_above`` (``p = terms.probability(x)``) the element is rejected: it costs
    ``mirror_weight * a_neg * L+`` (the mirror of BRL: pushed up as a positive would be) instead
    of ``negative``, or exactly 0 with zero derivative for ``mirror_weight == 0``: then no
    positive term is computed, and ``negative``'s tensors are overwritten.

    Args:
        negative: the class-weighted negative term of ``x`` (``a_neg`` included), any shape,
            temporaries of the caller.
        x: the input elements it was computed from (logits or probabilities, compute dtype).
        positive: ``L+`` of ``x`` without class weight when the caller has it (else computed).
    """
    if hyper.reject_above is None:
        return negative
    rejected = terms.probability(x) > hyper.reject_above
    if hyper.mirror_weight == 0:
        negative.loss.masked_fill_(rejected, 0.0)
        if negative.grad is not None:
            negative.grad.masked_fill_(rejected, 0.0)
        return negative
    if positive is None:
        positive = terms.positive(x, hyper, with_grad, ops)
    mirror = positive.times(hyper.mirror_weight * hyper.class_weights()[1])
    return mirror.where(rejected, negative)


# ---------------------------------------------------------------- the target's combination

def asl_loss_and_grad(pred: Tensor, target: Target, weight: Optional[Tensor], hyper: Hyper,
                      terms: Terms, ops: Ops, with_grad: bool,
                      reduce: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Weighted ASL, elementwise (N, C) or summed (0-d), and its derivative in ``pred``.

    Args:
        pred: (N, C) logits (:data:`LOGIT_TERMS`) or probabilities (:data:`PROBABILITY_TERMS`),
            any floating dtype (computed in :func:`compute_dtype`).
        target: (N,) integer labels in [0, C] (C = background), an (N, C) soft target in [0, 1],
            or ``(labels (N,), scores (N,))`` with scores in [0, 1] (validated by the caller).
        weight: None, or (N, 1) / (N, C) weights in the compute dtype.
        hyper: the hyper-parameters, exponents as ``ops`` takes them.
        terms: :data:`LOGIT_TERMS` or :data:`PROBABILITY_TERMS`.
        ops: :class:`EagerOps`, or :class:`CompiledOps` inside ``torch.compile``.
        with_grad: also compute the derivative (else None).
        reduce: return the sum of the weighted loss instead of the (N, C) weighted loss.

    Returns:
        ``(loss, grad)``: loss 0-d or (N, C); grad (N, C) = d(loss)/d(pred), weight included.
    """
    x = pred.to(compute_dtype(pred.dtype))
    a_pos, a_neg = hyper.class_weights()
    negative = terms.negative(x, hyper, with_grad, ops).times(a_neg)       # (N, C)
    if isinstance(target, Tensor) and target.dim() == 2:
        positive = terms.positive(x, hyper, with_grad, ops)                # (N, C)
        negative = rejected_negative_(negative, x, hyper, terms, with_grad, ops, positive)
        return _soft_target_combination(negative, positive.times(a_pos), target.to(x.dtype),
                                        weight, reduce, ops)
    negative = rejected_negative_(negative, x, hyper, terms, with_grad, ops)
    labels, scores = target if isinstance(target, tuple) else (target, None)
    num_classes = x.size(1)
    # (N, 1): the labelled class of each row (background rows: any class, C - 1)
    labelled_index = labels.clamp(max=num_classes - 1).long().unsqueeze(1)
    x_labelled = x.gather(1, labelled_index)
    if scores is None:
        positive = terms.positive(x_labelled, hyper, with_grad, ops)
    else:
        score = scores.to(x.dtype).unsqueeze(1)
        positive = terms.quality(x_labelled, score, hyper, with_grad, ops)
    negative_at_labelled = rejected_negative_(   # what the dense negative holds there
        terms.negative(x_labelled, hyper, with_grad, ops).times(a_neg), x_labelled, hyper, terms,
        with_grad, ops, None if scores is not None else positive)
    foreground = (labels < num_classes).unsqueeze(1)
    labelled_term = positive.times(a_pos).where(foreground, negative_at_labelled)
    return _labelled_class_combination(negative, labelled_index, labelled_term,
                                       negative_at_labelled, weight, reduce, ops)


def _soft_target_combination(negative: Term, positive: Term, y: Tensor, weight: Optional[Tensor],
                             reduce: bool, ops: Ops) -> Tuple[Tensor, Optional[Tensor]]:
    """``(1 - y) * negative + y * positive``, weighted (summed with ``reduce``), and its
    derivative. ``lerp`` is exact at y == 0 and y == 1; the weighting overwrites lerp's fresh
    (N, C) results."""
    loss = torch.lerp(negative.loss, positive.loss, y)
    grad = None
    if negative.grad is not None:
        grad = _weighted_(torch.lerp(negative.grad, positive.grad, y), weight)
    return ops.weighted_sum(loss, weight) if reduce else _weighted_(loss, weight), grad


def _labelled_class_combination(negative: Term, labelled_index: Tensor, labelled_term: Term,
                                negative_at_labelled: Term, weight: Optional[Tensor],
                                reduce: bool, ops: Ops) -> Tuple[Tensor, Optional[Tensor]]:
    """The dense (N, C) ``negative`` term with the labelled classes (``labelled_index`` (N, 1))
    set to ``labelled_term`` (N, 1), weighted (summed with ``reduce``), and its derivative.

    ``negative_at_labelled`` is what ``negative`` holds at ``labelled_index``: the summed loss
    is corrected by ``sum(labelled_term - negative_at_labelled)`` instead of a second pass over
    (N, C); the elementwise loss and the derivative take ``labelled_term`` by a scatter, which
    overwrites the (N, C) temporaries of ``negative``. Weighted before the scatter, so that the
    compiled dense kernel holds the weighting. (A non-finite negative term at a labelled class,
    possible only on logits for ``clip == 0`` and an infinite logit, makes the sum NaN.)
    """
    row_weight = (weight if weight is None or weight.size(1) == 1
                  else weight.gather(1, labelled_index))
    labelled_term = labelled_term.times(row_weight)
    if reduce:
        correction = labelled_term.loss - negative_at_labelled.times(row_weight).loss
        loss = ops.weighted_sum(negative.loss, weight) + correction.sum()
    else:
        loss = _weighted_(negative.loss, weight).scatter_(1, labelled_index, labelled_term.loss)
    grad = None
    if negative.grad is not None:
        grad = _weighted_(negative.grad, weight).scatter_(1, labelled_index, labelled_term.grad)
    return loss, grad


# ---------------------------------------------------------------- compiled path and autograd

def _compiled_body(logits: Tensor, target: Target, weight: Optional[Tensor], hyper: Hyper,
                   with_grad: bool, reduce: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """:func:`asl_loss_and_grad` of logits with :class:`CompiledOps`: what ``torch.compile``
    traces."""
    return asl_loss_and_grad(logits, target, weight, hyper, LOGIT_TERMS, CompiledOps,
                             with_grad, reduce)


@functools.lru_cache(maxsize=None)
def compiled_loss_and_grad() -> Callable:
    """``torch.compile`` of :func:`_compiled_body`, built once per process.

    Static shapes except the number of priors, which :func:`_mark_num_priors_dynamic` marks on
    each call: one graph serves every N. Python numbers are graph constants; a non-integral
    gamma enters as a 0-d tensor (:func:`compiled_exponent`), so the adaptive-asymmetry hook's
    updates reuse one graph.
    """
    return torch.compile(_compiled_body, dynamic=False)


def compiled_exponent(gamma: float, logits: Tensor) -> Union[int, Tensor]:
    """``gamma`` for :class:`CompiledOps`: an int when integral (a graph constant: a graph per
    value), else a 0-d tensor of the compute dtype on the device of ``logits`` (one graph for
    all values)."""
    if float(gamma).is_integer():
        return int(gamma)
    return torch.as_tensor(gamma, dtype=compute_dtype(logits.dtype), device=logits.device)


def _mark_num_priors_dynamic(*tensors: Optional[Tensor]) -> None:
    """Let the compiled graph take any size of dim 0 (N) of these tensors without a recompile
    (``torch._dynamo.maybe_mark_dynamic``: torch has no public form of this hint)."""
    for tensor in tensors:
        if tensor is not None:
            torch._dynamo.maybe_mark_dynamic(tensor, 0)


class AsymmetricLossFunction(torch.autograd.Function):
    """Weighted ASL with the closed-form derivative of :func:`asl_loss_and_grad`.

    ``apply(pred (N, C), target, weight None / (N, 1) / (N, C), reduce, hyper, activated,
    compiled)`` returns the summed weighted loss (0-d) with ``reduce``, else the (N, C) weighted
    loss, in :func:`compute_dtype`. ``target``: as :func:`asl_loss_and_grad` takes it;
    ``hyper``: a :class:`Hyper` with float exponents; ``activated``: ``pred`` holds
    probabilities; ``compiled``: run :func:`compiled_loss_and_grad` (logits only). When ``pred``
    needs a gradient, the forward pass also computes d(loss)/d(pred) and saves it (one (N, C)
    tensor); the backward pass multiplies it by the incoming gradient. Target and weight are
    constants here (no gradient flows into them).
    """

    @staticmethod
    def forward(ctx, pred: Tensor, target: Target, weight: Optional[Tensor], reduce: bool,
                hyper: Hyper, activated: bool, compiled: bool) -> Tensor:
        with_grad = ctx.needs_input_grad[0]
        if compiled and not activated and pred.numel() > 0:
            hyper = hyper._replace(gamma_pos=compiled_exponent(hyper.gamma_pos, pred),
                                   gamma_neg=compiled_exponent(hyper.gamma_neg, pred))
            targets = target if isinstance(target, tuple) else (target,)
            _mark_num_priors_dynamic(pred, weight, *targets)
            loss, grad = compiled_loss_and_grad()(pred, target, weight, hyper, with_grad, reduce)
        else:
            terms = PROBABILITY_TERMS if activated else LOGIT_TERMS
            loss, grad = asl_loss_and_grad(pred, target, weight, hyper, terms, EagerOps,
                                           with_grad, reduce)
        if with_grad:
            ctx.save_for_backward(grad)
            ctx.pred_dtype = pred.dtype
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        grad, = ctx.saved_tensors
        return ((grad * grad_loss).to(ctx.pred_dtype),) + (None,) * 6
