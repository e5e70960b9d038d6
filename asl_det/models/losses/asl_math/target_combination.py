"""How the target combines the loss terms into the weighted ASL and its derivative
(:func:`asl_loss_and_grad`, the entry point of the math).

- (N, C) soft target ``y``: ``y * L+ + (1 - y) * L-`` everywhere;
- (N,) integer labels: ``L-`` everywhere, but ``L+`` at the labelled class of foreground rows;
- ``(labels (N,), scores (N,))``: the same with ``Lq`` (score ``s``) at the labelled class.

The labelled classes are handled by recomputing N gathered elements, never a dense (N, C)
positive term; the dense (N, C) temporaries are weighted in place.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ..loss_inputs import Target
from .elementwise_ops import OpSet
from .hyper_parameters import AslHyperParameters, compute_dtype
from .loss_term import LossTerm, TermSet
from .negative_rejection import rejected_negative_


def asl_loss_and_grad(pred: Tensor, target: Target, weight: Optional[Tensor],
                      hyper: AslHyperParameters, terms: TermSet, ops: OpSet, with_grad: bool,
                      reduce: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Weighted ASL, elementwise (N, C) or summed (0-d), and its derivative in ``pred``.

    Args:
        pred: (N, C) logits (:data:`~.logit_terms.LOGIT_TERMS`) or probabilities
            (:data:`~.probability_terms.PROBABILITY_TERMS`),
            any floating dtype (computed in :func:`compute_dtype`).
        target: (N,) integer labels in [0, C] (C = background), an (N, C) soft target in [0, 1],
            or ``(labels (N,), scores (N,))`` with scores in [0, 1] (validated by the caller).
        weight: None, or (N, 1) / (N, C) weights in the compute dtype.
        hyper: the hyper-parameters, exponents as ``ops`` takes them.
        terms: ``LOGIT_TERMS`` or ``PROBABILITY_TERMS``.
        ops: :class:`~.elementwise_ops.EagerOps`, or :class:`~.elementwise_ops.CompiledOps`
            inside ``torch.compile``.
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
    return _labelled_class_combination(negative, labelled_index, labelled_term, weight, reduce,
                                       ops)


def _soft_target_combination(negative: LossTerm, positive: LossTerm, y: Tensor,
                             weight: Optional[Tensor], reduce: bool,
                             ops: OpSet) -> Tuple[Tensor, Optional[Tensor]]:
    """``(1 - y) * negative + y * positive``, weighted (summed with ``reduce``), and its
    derivative. ``lerp`` is exact at y == 0 and y == 1; the weighting overwrites lerp's fresh
    (N, C) results."""
    loss = torch.lerp(negative.loss, positive.loss, y)
    grad = None
    if negative.grad is not None:
        grad = _times_weight_inplace_(torch.lerp(negative.grad, positive.grad, y), weight)
    if reduce:
        return ops.weighted_sum(loss, weight), grad
    return _times_weight_inplace_(loss, weight), grad


def _labelled_class_combination(negative: LossTerm, labelled_index: Tensor,
                                labelled_term: LossTerm, weight: Optional[Tensor], reduce: bool,
                                ops: OpSet) -> Tuple[Tensor, Optional[Tensor]]:
    """The dense (N, C) ``negative`` term with the labelled classes (``labelled_index`` (N, 1))
    set to ``labelled_term`` (N, 1), weighted (summed with ``reduce``), and its derivative.

    The labelled classes are scattered into the (N, C) temporaries of ``negative`` (loss and
    derivative), overwriting them: for the sum, zeros, and ``labelled_term`` added on its own
    (no subtraction of the negative term there, which cancels in float32 when that term is
    large, e.g. a confident positive with ``clip == 0``). Weighted before the scatter, so that
    the compiled dense kernel holds the weighting.
    """
    row_weight = (weight if weight is None or weight.size(1) == 1
                  else weight.gather(1, labelled_index))
    labelled_term = labelled_term.times(row_weight)
    if reduce:
        negative.loss.scatter_(1, labelled_index, 0.0)
        loss = ops.weighted_sum(negative.loss, weight) + labelled_term.loss.sum()
    else:
        loss = _times_weight_inplace_(negative.loss, weight).scatter_(1, labelled_index,
                                                                      labelled_term.loss)
    grad = None
    if negative.grad is not None:
        grad = _times_weight_inplace_(negative.grad, weight).scatter_(1, labelled_index,
                                                                      labelled_term.grad)
    return loss, grad


def _times_weight_inplace_(tensor: Tensor, weight: Optional[Tensor]) -> Tensor:
    """``tensor * weight``, overwriting ``tensor`` (an (N, C) temporary; None: unchanged)."""
    return tensor if weight is None else tensor.mul_(weight)

