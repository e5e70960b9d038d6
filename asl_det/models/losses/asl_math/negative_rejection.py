"""Rejection of confident negatives (``reject_above`` / ``mirror_weight``): a negative element the
model is sure of costs the mirror term or nothing instead of ``L-`` (BRL's rule)."""
from typing import Optional

from torch import Tensor

from .elementwise_ops import OpSet
from .hyper_parameters import AslHyperParameters
from .loss_term import LossTerm, TermSet


def rejected_negative_(negative: LossTerm, x: Tensor, hyper: AslHyperParameters,
                       terms: TermSet, with_grad: bool, ops: OpSet,
                       positive: Optional[LossTerm] = None) -> LossTerm:
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

