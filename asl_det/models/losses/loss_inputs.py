"""What a classification loss call may pass: the checks and views the loss and the probability
statistics share (prediction, the three target forms, the weight-shape contract)."""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

Target = Union[Tensor, Tuple[Tensor, Tensor]]
"""(N,) integer labels, an (N, C) soft target or a ``(labels (N,), scores (N,))`` tuple."""


def check_tensor_range(tensor: Tensor, low: float, high: float, message: str) -> None:
    """Raise ValueError(``message``) unless every element lies in ``[low, high]`` (NaN fails).

    ``message`` names the argument and the range. On CPU the check is immediate (the error adds
    the range of values found). On an accelerator it is queued on the device
    (``torch._assert_async``, private: the public alternatives read the result back to the host
    and stall the stream at every loss call), and a violation fails the device's next
    synchronisation with ``message``.
    """
    in_range = ((tensor >= low) & (tensor <= high)).all()
    if tensor.device.type != 'cpu':
        torch._assert_async(in_range, message)
    elif not bool(in_range):
        raise ValueError(f'{message}, got values in [{tensor.min().item()}, '
                         f'{tensor.max().item()}]')


def is_quality_target(target) -> bool:
    """Whether ``target`` is the ``(labels, scores)`` form (a tuple or list)."""
    return isinstance(target, (tuple, list))


def check_pred(pred: Tensor) -> None:
    """Raise ValueError unless ``pred`` is an (N, C) tensor."""
    if not isinstance(pred, Tensor) or pred.dim() != 2:
        shape = tuple(pred.shape) if isinstance(pred, Tensor) else type(pred).__name__
        raise ValueError(f'pred must have shape (N, C), got {shape}')


def one_class_view(pred: Tensor, target) -> Tuple[Tensor, Tensor]:
    """An (N,) ``pred`` with its (N,) elementwise ``target`` (binary or soft) as one class:
    (N, 1) views, as mmdet's FocalLoss reads a prediction and a target of the same shape; the
    view's target is then an (N, C) target of :func:`check_target` (range-checked, an integer
    one cast). GLIP's and Grounding DINO's heads pass these: scores and one-hot targets
    flattened over the text tokens they keep. ValueError naming ``target`` otherwise."""
    if not isinstance(target, Tensor) or target.shape != pred.shape:
        got = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(f'target must have the shape of a pred of shape (N,) = '
                         f'{tuple(pred.shape)} (one target per element), got {got}')
    return pred.unsqueeze(1), target.unsqueeze(1)


def _check_labels(labels, num_priors: int, num_classes: int, name: str) -> None:
    if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.dim() != 1 \
            or labels.numel() != num_priors:
        got = (f'{labels.dtype} {tuple(labels.shape)}' if isinstance(labels, Tensor)
               else type(labels).__name__)
        raise ValueError(f'{name} must be an integer tensor of shape (N,) = ({num_priors},), '
                         f'got {got}')
    check_tensor_range(labels, 0, num_classes,
                       f'target labels must be in [0, num_classes] = [0, {num_classes}]')


def check_target(target, pred: Tensor) -> Target:
    """Validate ``target`` for ``pred`` (N, C) and return it, detached (a list becomes a
    tuple): targets are constants, no gradient flows into them (as with mmcv's
    ``sigmoid_focal_loss``; e.g. a distillation teacher's soft target or an IoU score left
    attached).

    Accepted: (N,) integer labels in [0, C] (C = background); an (N, C) target in [0, 1]
    (an integer one-hot is cast to ``pred``'s dtype, as mmdet's FocalLoss does);
    ``(labels, scores)``: labels as above and (N,) floating scores in [0, 1]. Raises ValueError
    naming ``target``, its labels or its scores.
    """
    num_priors, num_classes = pred.shape
    if is_quality_target(target):
        if len(target) != 2:
            raise ValueError('target given as a tuple must be (labels, scores) of length 2, '
                             f'got length {len(target)}')
        labels, scores = target
        _check_labels(labels, num_priors, num_classes, 'target labels')
        if not isinstance(scores, Tensor) or not scores.is_floating_point() \
                or scores.dim() != 1 or scores.numel() != num_priors:
            got = (f'{scores.dtype} {tuple(scores.shape)}' if isinstance(scores, Tensor)
                   else type(scores).__name__)
            raise ValueError('target scores must be a floating tensor of shape (N,) = '
                             f'({num_priors},), got {got}')
        check_tensor_range(scores, 0, 1, 'target scores must be in [0, 1]')
        return labels, scores.detach()
    if not isinstance(target, Tensor):
        raise TypeError('target must be a tensor or a (labels, scores) tuple, got '
                        f'{type(target).__name__}')
    if target.dim() == 1:
        _check_labels(target, num_priors, num_classes, 'target given as labels')
        return target
    if target.shape != pred.shape:
        raise ValueError(f'target must have shape (N,) or (N, C) = {tuple(pred.shape)}, '
                         f'got {tuple(target.shape)}')
    check_tensor_range(target, 0, 1, 'target of shape (N, C) must be in [0, 1]')
    target = target.detach()
    return target if target.is_floating_point() else target.to(pred.dtype)  # as FocalLoss


def weight_view(weight: Optional[Tensor], pred: Tensor) -> Optional[Tensor]:
    """``weight`` viewed to broadcast on ``pred`` (N, C): the weight-shape contract.

    None stays None; (N, C) and (N, 1) as they are; (N,) per prior -> (N, 1); (N*C,), the
    flattened elementwise weight FSAF passes -> (N, C). Anything else raises ValueError naming
    ``weight``.
    """
    if weight is None:
        return None
    num_priors, num_classes = pred.shape
    if weight.shape == pred.shape or weight.shape == (num_priors, 1):
        return weight
    if weight.dim() == 1 and weight.numel() == num_priors:
        return weight.view(-1, 1)
    if weight.dim() == 1 and weight.numel() == pred.numel():
        return weight.view(num_priors, num_classes)
    raise ValueError(f'weight must have shape (N,), (N, C) or (N*C,) for pred of shape '
                     f'{tuple(pred.shape)}, got {tuple(weight.shape)}')
