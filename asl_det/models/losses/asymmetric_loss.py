"""Asymmetric Loss (Ben-Baruch, Ridnik et al., ICCV 2021) as a drop-in for mmdet's FocalLoss."""
import math
from typing import Optional, Union

import torch
import torch.nn as nn
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from .asymmetric_loss_math import AsymmetricLossFunction, asl_prob_forward, compute_dtype

REDUCTIONS = ('none', 'mean', 'sum')
SCORE_ACTIVATIONS = ('sigmoid', 'shifted')


def _check_number(name: str, value, low: float, high: float, high_open: bool = False):
    """Raise TypeError/ValueError unless ``low <= value <= high`` (``< high`` if high_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f'{name} must be a number, got {type(value).__name__}')
    upper_ok = value < high if high_open else value <= high
    if not (math.isfinite(value) and value >= low and upper_ok):
        bracket = ')' if high_open else ']'
        raise ValueError(f'{name} must be in [{low}, {high}{bracket}, got {value}')


def check_asl_params(gamma_pos: float, gamma_neg: float, clip: float,
                     alpha: Optional[float] = None, eps: float = 1e-8):
    """Validate ASL hyper-parameters; raises TypeError/ValueError naming the argument."""
    _check_number('gamma_pos', gamma_pos, 0, math.inf, high_open=True)
    _check_number('gamma_neg', gamma_neg, 0, math.inf, high_open=True)
    _check_number('clip', clip, 0, 1, high_open=True)
    if alpha is not None:
        _check_number('alpha', alpha, 0, 1)
    _check_number('eps', eps, 0, 0.5, high_open=True)


def _check_inputs(pred: Tensor, target: Tensor, weight: Optional[Tensor]) -> Optional[Tensor]:
    """Validate shapes (and label range) and return ``weight`` viewed to broadcast on (N, C)."""
    if pred.dim() != 2:
        raise ValueError(f'pred must have shape (N, C), got {tuple(pred.shape)}')
    num_priors, num_classes = pred.shape
    if target.dim() == 1:
        if target.is_floating_point() or target.numel() != num_priors:
            raise ValueError('target given as labels must be an integer tensor of shape '
                             f'(N,) = ({num_priors},), got {target.dtype} {tuple(target.shape)}')
        in_range = ((target >= 0) & (target <= num_classes)).all()
        message = f'target labels must be in [0, num_classes] = [0, {num_classes}]'
        if target.device.type == 'cpu':
            if not bool(in_range):
                raise ValueError(message)
        else:  # no host-device synchronisation on accelerators
            torch._assert_async(in_range, message)
    elif target.shape != pred.shape:
        raise ValueError(f'target must have shape (N,) or (N, C) = {tuple(pred.shape)}, '
                         f'got {tuple(target.shape)}')
    if weight is None:
        return None
    if weight.shape == pred.shape:
        return weight
    if weight.dim() == 1 and weight.numel() == num_priors:
        return weight.view(-1, 1)
    if weight.dim() == 1 and weight.numel() == pred.numel():  # FSAF: flattened (N*C,)
        return weight.view(num_priors, num_classes)
    raise ValueError(f'weight must have shape (N,), (N, C) or (N*C,) for pred of shape '
                     f'{tuple(pred.shape)}, got {tuple(weight.shape)}')


def asymmetric_loss(pred: Tensor,
                    target: Tensor,
                    weight: Optional[Tensor] = None,
                    gamma_pos: float = 0.0,
                    gamma_neg: float = 4.0,
                    clip: float = 0.05,
                    alpha: Optional[float] = None,
                    reduction: str = 'mean',
                    avg_factor: Optional[float] = None,
                    activated: bool = False,
                    eps: float = 1e-8,
                    detach_focal_weight: bool = False,
                    compiled: bool = False) -> Tensor:
    """Asymmetric loss with mmdet's weight / reduction / avg_factor semantics.

    Args:
        pred: (N, C) logits (or probabilities if ``activated``). Any float dtype; the loss is
            computed in float32.
        target: (N,) integer labels in [0, C], C meaning background, or (N, C) targets in [0, 1]
            (one-hot or soft; a soft target y weights the positive term by y, the negative by 1-y).
        weight: None, (N,), (N, C) or flattened (N*C,) elementwise weights.
        gamma_pos, gamma_neg: focusing exponents of positives / negatives (>= 0).
        clip: probability margin m in [0, 1); negatives with p < m give zero loss and gradient.
        alpha: None (paper's form) or weight of positives in [0, 1] (negatives get 1 - alpha).
        reduction: 'none' (elementwise (N, C)), 'mean' or 'sum'.
        avg_factor: divide the sum by it instead of the element count (reduction 'mean').
        activated: ``pred`` holds probabilities; logs are clamped at ``eps``.
        eps: log clamp for ``activated`` input only (logits use log-sigmoid, no clamp).
        detach_focal_weight: treat ``(1-p)^gamma_pos`` and ``p_m^gamma_neg`` as constants in the
            backward pass (default False: full gradient, as in the paper's analysis).
        compiled: use the ``torch.compile`` fused kernel (logits only).

    NaN logits propagate into the loss (no check, so no host-device synchronisation per call).

    Returns:
        Scalar loss, or (N, C) float32 loss for reduction 'none'.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
    if avg_factor is not None and reduction == 'sum':
        raise ValueError('avg_factor can not be used with reduction="sum"')
    weight = _check_inputs(pred, target, weight)
    if weight is not None:
        weight = weight.to(compute_dtype(pred.dtype))
    with torch.autocast(device_type=pred.device.type, enabled=False):
        if activated:
            loss = asl_prob_forward(pred, target, gamma_pos, gamma_neg, clip, alpha, eps,
                                    detach_focal_weight)
            return weight_reduce_loss(loss, weight, reduction, avg_factor)
        if weight is not None and weight.requires_grad:  # weight outside: autograd reaches it
            loss = AsymmetricLossFunction.apply(pred, target, None, False, gamma_pos, gamma_neg,
                                                clip, alpha, detach_focal_weight, compiled)
            return weight_reduce_loss(loss, weight, reduction, avg_factor)
        # weighting and summation fused into the loss and its saved derivative
        loss = AsymmetricLossFunction.apply(pred, target, weight, reduction != 'none',
                                            gamma_pos, gamma_neg, clip, alpha,
                                            detach_focal_weight, compiled)
        if reduction == 'mean' and avg_factor is None:
            return loss / pred.numel()
        return weight_reduce_loss(loss, None, reduction, avg_factor)


@MODELS.register_module()
class AsymmetricLoss(nn.Module):
    """`Asymmetric Loss <https://arxiv.org/abs/2009.14119>`_, a drop-in for ``FocalLoss``.

    Defaults follow the paper's recommended setting and MMPretrain's ASL: ``gamma_pos=0``
    (the paper's training recipe), ``gamma_neg=4``, ``clip=0.05``, ``eps=1e-8``, no ``alpha``.

    Args:
        use_sigmoid: must be True (heads read it to size their classifier without background).
        gamma_pos, gamma_neg, clip, alpha, eps, detach_focal_weight: see :func:`asymmetric_loss`.
            ``gamma_pos == gamma_neg == g, clip == 0, alpha == a`` is ``FocalLoss(gamma=g,
            alpha=a)``.
        reduction: 'none', 'mean' or 'sum'.
        loss_weight: multiplier of the loss.
        activated: inputs are probabilities instead of logits.
        compiled: run the ``torch.compile`` fused forward/backward: loss, weighting, reduction
            and derivative in one kernel over (N, C). One-off compile cost of seconds; no
            recompile when N changes; an integral ``gamma_neg`` / ``gamma_pos`` is compiled in
            as a constant (a graph per value), all non-integral values share one graph, so the
            adaptive-asymmetry hook's updates do not recompile. Eager otherwise.
        score_activation: how the head turns logits into detection scores at inference.
            'shifted' (default) gives ``max(sigmoid(x) - clip, 0)``: the background scores that an
            ASL model leaves below the margin become 0 instead of crowding NMS. 'sigmoid' keeps
            mmdet's plain sigmoid. With ``clip == 0`` both are the same.

    Attributes:
        gamma_neg: current negative exponent; ``AdaptiveAsymmetryHook`` changes it in training.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 gamma_pos: float = 0.0,
                 gamma_neg: float = 4.0,
                 clip: float = 0.05,
                 alpha: Optional[float] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False,
                 eps: float = 1e-8,
                 detach_focal_weight: bool = False,
                 compiled: bool = False,
                 score_activation: str = 'shifted'):
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError('use_sigmoid must be True: AsymmetricLoss is a sigmoid '
                             f'(multi-label) loss, got use_sigmoid={use_sigmoid!r}')
        check_asl_params(gamma_pos, gamma_neg, clip, alpha, eps)
        if reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
        _check_number('loss_weight', loss_weight, 0, math.inf, high_open=True)
        if score_activation not in SCORE_ACTIVATIONS:
            raise ValueError(f'score_activation must be one of {SCORE_ACTIVATIONS}, '
                             f'got {score_activation!r}')
        if compiled and activated:
            raise ValueError('compiled=True needs logits: it cannot be combined with '
                             'activated=True')
        self.use_sigmoid = use_sigmoid
        self.gamma_pos = float(gamma_pos)
        self.gamma_neg = float(gamma_neg)
        self.clip = float(clip)
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated
        self.eps = eps
        self.detach_focal_weight = detach_focal_weight
        self.compiled = compiled
        self.score_activation = score_activation
        # mmdet's dense heads call get_activation() for scores when this attribute is set.
        self.custom_cls_channels = score_activation == 'shifted' and self.clip > 0
        self.custom_activation = self.custom_cls_channels

    def get_cls_channels(self, num_classes: int) -> int:
        """Classifier channels: one per class, no background channel (sigmoid loss)."""
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """Detection scores (N, C) from logits (N, C): ``max(sigmoid(x) - clip, 0)``."""
        return (cls_score.sigmoid() - self.clip).clamp(min=0)

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[int, float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Loss of ``pred`` (N, C) against ``target`` (N,) labels or (N, C) targets.

        ``weight`` is (N,), (N, C) or (N*C,); ``avg_factor`` normalises the sum (mmdet heads pass
        the number of positives); ``reduction_override`` is None, 'none', 'mean' or 'sum'.
        """
        if reduction_override not in (None,) + REDUCTIONS:
            raise ValueError(f'reduction_override must be None or one of {REDUCTIONS}, '
                             f'got {reduction_override!r}')
        reduction = reduction_override if reduction_override else self.reduction
        loss = asymmetric_loss(
            pred, target, weight,
            gamma_pos=self.gamma_pos,
            gamma_neg=self.gamma_neg,
            clip=self.clip,
            alpha=self.alpha,
            reduction=reduction,
            avg_factor=avg_factor,
            activated=self.activated,
            eps=self.eps,
            detach_focal_weight=self.detach_focal_weight,
            compiled=self.compiled)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'gamma_pos={self.gamma_pos}, gamma_neg={self.gamma_neg}, clip={self.clip}, '
                f'alpha={self.alpha}, reduction={self.reduction}, loss_weight={self.loss_weight}')

