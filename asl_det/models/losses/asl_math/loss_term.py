"""An elementwise loss term with its derivative (:class:`LossTerm`), and the set of term functions
for one kind of input, logits or probabilities (:class:`TermSet`)."""
from typing import Callable, NamedTuple, Optional, Union

import torch
from torch import Tensor


class LossTerm(NamedTuple):
    """An elementwise loss term and its derivative in the input (None when not needed)."""

    loss: Tensor
    grad: Optional[Tensor]

    def times(self, factor: Union[float, Tensor, None]) -> 'LossTerm':
        """The term times ``factor``: a number, or a tensor that broadcasts to it (None and 1:
        the term itself)."""
        if factor is None or (not isinstance(factor, Tensor) and factor == 1):
            return self
        return LossTerm(self.loss * factor, None if self.grad is None else self.grad * factor)

    def where(self, condition: Tensor, other: 'LossTerm') -> 'LossTerm':
        """Elementwise ``self`` where ``condition``, else ``other``."""
        grad = None if self.grad is None else torch.where(condition, self.grad, other.grad)
        return LossTerm(torch.where(condition, self.loss, other.loss), grad)


class TermSet(NamedTuple):
    """The three terms for one kind of input, each ``f(input, hyper, with_grad, ops) ->
    LossTerm`` (``quality`` takes the (N, 1) scores after the input), and ``probability(input)
    -> p``: ``LOGIT_TERMS`` or ``PROBABILITY_TERMS``."""

    positive: Callable[..., LossTerm]
    quality: Callable[..., LossTerm]
    negative: Callable[..., LossTerm]
    probability: Callable[[Tensor], Tensor]
