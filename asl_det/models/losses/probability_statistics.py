"""The paper's balance statistics: probability of the correct answer on positives and negatives."""
from typing import Dict, Optional

import torch
from torch import Tensor

from .loss_inputs import Target, check_pred, check_target, is_quality_target, weight_view


@torch.no_grad()
def probability_statistics(pred: Tensor, target: Target, weight: Optional[Tensor] = None,
                           activated: bool = False) -> Dict[str, Tensor]:
    """Weighted sums of p_t over positive and negative elements (ASL paper, section 2.7).

    ``p_t`` is the probability of the correct answer: ``1 - p`` for a negative element, ``p``
    for a positive one with a binary target. Which elements count, per target form (as the loss
    reads them, :func:`~asl_det.models.losses.asymmetric_loss`):

    - (N,) labels: the labelled class of each foreground row is positive, all else negative;
    - ``(labels, scores)``: the same elements are positive, and their ``p_t`` is
      ``1 - |s - p|``, the closeness of ``p`` to its quality target ``s`` (``p`` for s = 1), so
      that a head whose scores match their targets shows no gap from the targets alone;
    - (N, C) soft target ``y``: an element counts ``y`` positive and ``1 - y`` negative.

    Elements with zero weight do not count. Sums (not means) are returned so that they can be
    added across iterations and ranks.

    Args:
        pred: (N, C) logits (probabilities if ``activated``).
        target: (N,) labels in [0, C] (C = background), ``(labels, scores)`` or (N, C) targets
            in [0, 1].
        weight: None, (N,), (N, C) or (N*C,) weights, as the loss takes them.

    Returns:
        dict of detached float32 0-d tensors: ``pos_prob_sum``, ``pos_count``, ``neg_prob_sum``,
        ``neg_count``.
    """
    check_pred(pred)
    target = check_target(target, pred)
    p = pred.float() if activated else pred.float().sigmoid()
    w = weight_view(weight, pred)
    w = torch.ones(1, 1, device=p.device) if w is None else w.float()
    if isinstance(target, Tensor) and target.dim() == 2:
        y = target.float()
        return dict(pos_prob_sum=(y * w * p).sum(), pos_count=(y * w).expand_as(p).sum(),
                    neg_prob_sum=((1 - y) * w * (1 - p)).sum(),
                    neg_count=((1 - y) * w).expand_as(p).sum())
    labels, scores = target if is_quality_target(target) else (target, None)
    num_classes = p.size(1)
    index = labels.clamp(max=num_classes - 1).long().unsqueeze(1)
    foreground = (labels < num_classes).unsqueeze(1).float()
    w_all = w.expand_as(p)
    w_pos = w_all.gather(1, index) * foreground                  # (N, 1)
    p_pos = p.gather(1, index)
    pos_correct = p_pos if scores is None else 1 - (scores.float().unsqueeze(1) - p_pos).abs()
    pos_count = w_pos.sum()
    return dict(pos_prob_sum=(w_pos * pos_correct).sum(), pos_count=pos_count,
                neg_prob_sum=(w_all * (1 - p)).sum() - (w_pos * (1 - p_pos)).sum(),
                neg_count=w_all.sum() - pos_count)
