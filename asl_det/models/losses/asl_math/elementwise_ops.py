"""The elementwise building blocks the loss terms are written in, as two interchangeable op
sets: :class:`EagerOps` (ATen kernels, in place) and :class:`CompiledOps` (``torch.compile``)."""
from typing import Callable, Optional, Tuple, Type, Union

import torch
from torch import Tensor

from .hyper_parameters import Exponent


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


OpSet = Union[Type[EagerOps], Type[CompiledOps]]
""":class:`EagerOps` or :class:`CompiledOps`: the class itself, never an instance."""


def _squares(exponent: float) -> bool:
    """Whether :class:`EagerOps` computes ``** exponent`` by squaring (integral, above 3)."""
    return exponent > 3 and float(exponent).is_integer()
