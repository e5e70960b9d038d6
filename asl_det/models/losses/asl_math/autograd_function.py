"""The autograd Function of the loss: its forward pass runs the eager or the compiled math and
saves the closed-form derivative; its backward pass is one multiply."""
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..loss_inputs import Target
from .compiled_loss import compiled_exponent, compiled_loss_and_grad, mark_num_priors_dynamic
from .elementwise_ops import EagerOps
from .hyper_parameters import AslHyperParameters
from .logit_terms import LOGIT_TERMS
from .probability_terms import PROBABILITY_TERMS
from .target_combination import asl_loss_and_grad


class AsymmetricLossFunction(torch.autograd.Function):
    """Weighted ASL with the closed-form derivative of :func:`asl_loss_and_grad`.

    ``apply(pred (N, C), target, weight None / (N, 1) / (N, C), reduce, hyper, activated,
    compiled)`` returns the summed weighted loss (0-d) with ``reduce``, else the (N, C) weighted
    loss, in :func:`~.hyper_parameters.compute_dtype`. ``target``: as
    :func:`asl_loss_and_grad` takes it; ``hyper``: an :class:`AslHyperParameters` with float
    exponents; ``activated``: ``pred`` holds probabilities; ``compiled``: run
    :func:`compiled_loss_and_grad` (logits only). When ``pred`` needs a gradient, the forward
    pass also computes d(loss)/d(pred) and saves it (one (N, C) tensor); the backward pass
    multiplies it by the incoming gradient. Target and weight are constants here (no gradient
    flows into them).
    """

    @staticmethod
    def forward(ctx, pred: Tensor, target: Target, weight: Optional[Tensor], reduce: bool,
                hyper: AslHyperParameters, activated: bool, compiled: bool) -> Tensor:
        with_grad = ctx.needs_input_grad[0]
        if compiled and not activated and pred.numel() > 0:
            hyper = hyper._replace(gamma_pos=compiled_exponent(hyper.gamma_pos, pred),
                                   gamma_neg=compiled_exponent(hyper.gamma_neg, pred))
            targets = target if isinstance(target, tuple) else (target,)
            mark_num_priors_dynamic(pred, weight, *targets)
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
