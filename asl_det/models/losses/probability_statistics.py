"""The paper's balance statistics: probability of the correct answer on positives and negatives."""
from typing import Dict, Optional

import torch
from torch import Tensor

from .asymmetric_loss_math import _expand_target


@torch.no_grad()
def probability_statistics(pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                           activated: bool = False) -> Dict[str, Tensor]:
    """Weighted sums of p_t over positive and negative elements (ASL paper, section 2.7).

    ``p_t`` is ``p`` for positive elements and ``1 - p`` for negative ones. A soft target ``y``
    counts an element as ``y`` positive and ``1 - y`` negative; elements with zero weight do not
    count. Sums (not means) are returned so that they can be added across iterations and ranks.

    Args:
        pred: (N, C) logits (probabilities if ``activated``).
        target: (N,) labels in [0, C] (C = background) or (N, C) targets in [0, 1].
        weight: None, (N,), (N, C) or (N*C,) weights, as the loss takes them.

    Returns:
        dict of detached float32 0-d tensors: ``pos_prob_sum``, ``pos_count``, ``neg_prob_sum``,
        ``neg_count`` (no host-device synchronisation).
    """
    p = pred.float() if activated else pred.float().sigmoid()
    y = _expand_target(target, p.size(1), p.dtype)
    if weight is not None:
        weight = weight.float()
        w = weight.view(p.size(0), -1) if weight.shape != p.shape else weight
        y_pos, y_neg = y * w, (1 - y) * w
    else:
        y_pos, y_neg = y, 1 - y
    return dict(
        pos_prob_sum=(y_pos * p).sum(),
        pos_count=y_pos.sum(),
        neg_prob_sum=(y_neg * (1 - p)).sum(),
        neg_count=y_neg.sum())
