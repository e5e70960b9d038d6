"""The fused path: :func:`~.target_combination.asl_loss_and_grad` of logits with
:class:`~.elementwise_ops.CompiledOps`, compiled once by ``torch.compile`` for every N."""
import functools
from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from ..loss_inputs import Target
from .elementwise_ops import CompiledOps
from .hyper_parameters import AslHyperParameters, compute_dtype
from .logit_terms import LOGIT_TERMS
from .target_combination import asl_loss_and_grad


def _compiled_body(logits: Tensor, target: Target, weight: Optional[Tensor],
                   hyper: AslHyperParameters, with_grad: bool,
                   reduce: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """:func:`asl_loss_and_grad` of logits with :class:`CompiledOps`: what ``torch.compile``
    traces."""
    return asl_loss_and_grad(logits, target, weight, hyper, LOGIT_TERMS, CompiledOps,
                             with_grad, reduce)


@functools.lru_cache(maxsize=None)
def compiled_loss_and_grad() -> Callable:
    """``torch.compile`` of :func:`_compiled_body`, built once per process.

    Static shapes except the number of priors, which :func:`mark_num_priors_dynamic` marks on
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


def mark_num_priors_dynamic(*tensors: Optional[Tensor]) -> None:
    """Let the compiled graph take any size of dim 0 (N) of these tensors without a recompile
    (``torch._dynamo.maybe_mark_dynamic``: torch has no public form of this hint)."""
    for tensor in tensors:
        if tensor is not None:
            torch._dynamo.maybe_mark_dynamic(tensor, 0)

