"""What the ASL math is given: the loss's hyper-parameters (validated by the caller) and the dtype
it computes in."""
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

Exponent = Union[float, int, Tensor]
"""A focusing exponent: a float (eager), an int or a 0-d tensor (compiled)."""


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the loss is computed in for inputs of ``dtype``: float64 for float64, else
    float32, so low precision never enters the math."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class AslHyperParameters(NamedTuple):
    """The loss's hyper-parameters (validated by the caller: ``check_asl_params``)."""

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
