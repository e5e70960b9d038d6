"""Asymmetric Loss (Ben-Baruch, Ridnik et al., ICCV 2021) as a drop-in for mmdet's FocalLoss and
QualityFocalLoss."""
import math
from types import MappingProxyType
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from asl_det.validation import check_bool, check_number

from .asl_math import AslHyperParameters, AsymmetricLossFunction, compute_dtype
from .loss_inputs import (
    Target,
    check_pred,
    check_target,
    is_quality_target,
    one_class_view,
    weight_view,
)

ASL_DEFAULTS = MappingProxyType(dict(gamma_pos=0.0, gamma_neg=4.0, clip=0.05, eps=1e-8))
"""The paper's recommended setting (also MMPretrain's ASL): the defaults of
:func:`asymmetric_loss` and :class:`AsymmetricLoss`, and what the configs and the ``--asl`` swap
start from. Read-only; ``dict(ASL_DEFAULTS)`` for a copy."""

REDUCTIONS = ('none', 'mean', 'sum')
SCORE_ACTIVATIONS = ('sigmoid', 'shifted')


def check_asl_params(gamma_pos: float, gamma_neg: float, clip: float,
                     alpha: Optional[float] = None, eps: float = ASL_DEFAULTS['eps'],
                     reject_above: Optional[float] = None, mirror_weight: float = 0.0) -> None:
    """Validate ASL hyper-parameters; raises TypeError/ValueError naming the argument.

    The one validator: :class:`AsymmetricLoss` calls it at construction, :func:`asymmetric_loss`
    and :func:`py_asymmetric_loss` at every call (a few microseconds).
    """
    check_number('gamma_pos', gamma_pos, 0, math.inf, high_open=True)
    check_number('gamma_neg', gamma_neg, 0, math.inf, high_open=True)
    check_number('clip', clip, 0, 1, high_open=True)
    if alpha is not None:
        check_number('alpha', alpha, 0, 1)
    _check_open_interval('eps', eps, 0, 0.5, 'in (0, 0.5)')  # eps == 0 would take log(0)
    if reject_above is not None:
        _check_open_interval('reject_above', reject_above, 0, 1, 'None (off) or in (0, 1)')
    check_number('mirror_weight', mirror_weight, 0, math.inf, high_open=True)
    if mirror_weight > 0 and reject_above is None:
        raise ValueError(f'mirror_weight={mirror_weight} > 0 needs reject_above in (0, 1): '
                         'with reject_above=None no negative is rejected, so nothing is '
                         'mirrored')


def check_flags(**flags) -> None:
    """Raise TypeError naming the first of ``flags`` (name=value) that is not a bool
    (:func:`~asl_det.validation.check_bool`: 0, 1 and numpy / torch bools count)."""
    for name, value in flags.items():
        check_bool(name, value)


def _check_open_interval(name: str, value, low: float, high: float, allowed: str) -> None:
    """Raise unless ``value`` lies in the open interval ``(low, high)``: check_number's
    TypeError for a non-number, else ValueError ``'{name} must be {allowed}, got {value}'``."""
    try:
        in_range = low < check_number(name, value, low, high) < high
    except ValueError:  # NaN, infinite or outside [low, high]
        in_range = False
    if not in_range:
        raise ValueError(f'{name} must be {allowed}, got {value}')


def check_reduction(reduction: str, avg_factor=None, name: str = 'reduction') -> None:
    """Raise ValueError unless ``reduction`` is one of :data:`REDUCTIONS` and, with an
    ``avg_factor``, not 'sum' (mmdet's rule)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'{name} must be one of {REDUCTIONS}, got {reduction!r}')
    if avg_factor is not None and reduction == 'sum':
        raise ValueError('avg_factor can not be used with reduction="sum"')


def asymmetric_loss(pred: Tensor,
                    target: Target,
                    weight: Optional[Tensor] = None,
                    gamma_pos: float = ASL_DEFAULTS['gamma_pos'],
                    gamma_neg: float = ASL_DEFAULTS['gamma_neg'],
                    clip: float = ASL_DEFAULTS['clip'],
                    alpha: Optional[float] = None,
                    reduction: str = 'mean',
                    avg_factor: Optional[float] = None,
                    activated: bool = False,
                    eps: float = ASL_DEFAULTS['eps'],
                    detach_focal_weight: bool = False,
                    compiled: bool = False,
                    reject_above: Optional[float] = None,
                    mirror_weight: float = 0.0) -> Tensor:
    """Asymmetric loss with mmdet's weight / reduction / avg_factor semantics.

    Args:
        pred: (N, C) logits (or probabilities if ``activated``). Any float dtype; the loss is
            computed in float32 (float64 stays float64). An (N,) ``pred`` takes an (N,) target
            of the same shape, one binary or soft target per element (what mmdet's FocalLoss
            does with a target of the prediction's shape; GLIP's and Grounding DINO's heads
            pass scores and one-hot targets flattened), read as (N, 1); 'none' gives (N,).
        target: one of
            - (N,) integer labels in [0, C], C meaning background (FocalLoss's target): the
              labelled class of a foreground row is positive, every other element negative;
            - (N, C) soft target y in [0, 1]: each element costs ``y * L+ + (1 - y) * L-``, a
              y-weighted mix of the positive and the negative term (for y in {0, 1}: binary
              multi-label targets). This is NOT QualityFocalLoss's tensor target (every non-zero
              entry a positive with quality y) nor VFNet's IoU target;
            - ``(labels (N,), scores (N,))``, QualityFocalLoss's target (GFL, TOOD, RTMDet):
              the labelled class of a foreground row costs ``BCE(x, s) * |s - p|^gamma_pos``
              (``s`` its score in [0, 1]), every other element ``L-``; the loss is summed over
              classes to (N,) before weighting and reduction, as QualityFocalLoss does.
            Targets are constants: no gradient flows into them (used detached).
        weight: None, (N,), (N, C) or flattened (N*C,) elementwise weights.
        gamma_pos, gamma_neg: focusing exponents of positives / negatives (>= 0).
        clip: probability margin m in [0, 1); negatives with p < m give zero loss and gradient.
        alpha: None (paper's form) or weight of positives in [0, 1] (negatives get 1 - alpha).
        reduction: 'none' (elementwise (N, C); (N,) for a tuple target), 'mean' (over those
            elements) or 'sum'.
        avg_factor: divide the sum by it instead of the element count (reduction 'mean').
        activated: ``pred`` holds probabilities; logs are clamped at ``eps``.
        eps: log clamp for ``activated`` input only (logits use log-sigmoid, no clamp).
        detach_focal_weight: treat the focusing weights (``(1-p)^gamma_pos``, ``|s-p|^gamma_pos``,
            ``p_m^gamma_neg``) as constants in the backward pass (default False: full gradient,
            as in the paper's analysis and in QualityFocalLoss).
        compiled: use the ``torch.compile`` fused kernel (logits only: ValueError with
            ``activated``).
        reject_above: None (off, the default: the loss above, unchanged) or a probability
            threshold t in (0, 1). A negative element (binary target 0, a non-labelled class of
            a row, the ``1 - y`` part of a soft target) with ``p > t`` is rejected: it gets no
            ``L-`` (a negative the detector is confident about is likely an unlabelled object).
            Positive and quality terms are unchanged. Compiled: a graph per value of t.
        mirror_weight: what a rejected negative costs instead, >= 0: 0 (default) nothing, with
            zero gradient; beta > 0 the mirror of BRL (Background Recalibration Loss),
            ``beta * a_neg * L+(p)``: pushed up as a positive would be (``a_neg = 1 - alpha``,
            or 1 without ``alpha``). Needs ``reject_above``.

    Every hyper-parameter is validated at each call by :func:`check_asl_params` (ValueError or
    TypeError naming it); :class:`AsymmetricLoss` validates once, at construction.
    Logits and probabilities alike go through the closed-form forward/backward of
    :mod:`.asl_math` (one saved (N, C) derivative), tested against the plain-autograd
    reference :func:`py_asymmetric_loss` (same arguments; the paper's formula). With
    ``gamma_pos == gamma_neg == beta``, ``clip == 0`` and no ``alpha``, a tuple target gives
    mmdet's ``QualityFocalLoss(beta=beta)`` and integer labels ``2 * FocalLoss(gamma=beta,
    alpha=0.5)``.
    Scores of 1 give the integer-label loss summed over classes. NaN logits propagate into the
    loss (no check, so no host-device synchronisation per call).

    Returns:
        Scalar loss, or for reduction 'none' the (N, C) loss ((N,) for a tuple target), in
        float32 (float64 for float64 input).
    """
    check_asl_params(gamma_pos, gamma_neg, clip, alpha, eps, reject_above, mirror_weight)
    check_flags(activated=activated, detach_focal_weight=detach_focal_weight, compiled=compiled)
    if compiled and activated:
        raise ValueError('compiled=True needs logits: it cannot be combined with activated=True')
    hyper = _hyper_parameters(gamma_pos, gamma_neg, clip, alpha, detach_focal_weight, eps,
                              reject_above, mirror_weight)
    return _asymmetric_loss(pred, target, weight, hyper, reduction, avg_factor, activated,
                            compiled)


def _hyper_parameters(gamma_pos: float, gamma_neg: float, clip: float, alpha: Optional[float],
                      detach_focal_weight: bool, eps: float, reject_above: Optional[float],
                      mirror_weight: float) -> AslHyperParameters:
    """The hyper-parameters as the math takes them (validated: :func:`check_asl_params`)."""
    return AslHyperParameters(float(gamma_pos), float(gamma_neg), float(clip), alpha,
                              detach_focal_weight, eps,
                              None if reject_above is None else float(reject_above),
                              float(mirror_weight))


def _asymmetric_loss(pred: Tensor, target: Target, weight: Optional[Tensor],
                     hyper: AslHyperParameters, reduction: str, avg_factor: Optional[float],
                     activated: bool, compiled: bool) -> Tensor:
    """:func:`asymmetric_loss` with its hyper-parameters validated already (by the caller:
    :func:`asymmetric_loss` per call, :class:`AsymmetricLoss` at construction, with
    ``compiled and activated`` refused). Checks the per-call arguments only: reduction and
    ``avg_factor``, prediction, target and weight."""
    if isinstance(pred, Tensor) and pred.dim() == 1:  # one score per element: as one class
        pred, target = one_class_view(pred, target)
        loss = _asymmetric_loss(pred, target, weight, hyper, reduction, avg_factor, activated,
                                compiled)
        return loss.view(-1) if reduction == 'none' else loss
    check_reduction(reduction, avg_factor)
    check_pred(pred)
    target = check_target(target, pred)
    weight = weight_view(weight, pred)
    if weight is not None:
        weight = weight.to(compute_dtype(pred.dtype))
    per_prior = is_quality_target(target)
    with torch.autocast(device_type=pred.device.type, enabled=False):
        if weight is not None and weight.requires_grad:  # outside, so autograd reaches it
            loss = _times_weight(AsymmetricLossFunction.apply(
                pred, target, None, False, hyper, activated, compiled), weight)
        elif reduction == 'none':
            loss = AsymmetricLossFunction.apply(pred, target, weight, False, hyper, activated,
                                                compiled)
        else:  # weighting and summation fused into the loss and its saved derivative
            total = AsymmetricLossFunction.apply(pred, target, weight, True, hyper, activated,
                                                 compiled)
            if reduction == 'mean' and avg_factor is None:
                return total / (pred.size(0) if per_prior else pred.numel())
            return weight_reduce_loss(total, None, reduction, avg_factor)
        if per_prior:
            loss = loss.sum(dim=1)
        return weight_reduce_loss(loss, None, reduction, avg_factor)


def py_asymmetric_loss(pred: Tensor,
                       target: Target,
                       weight: Optional[Tensor] = None,
                       gamma_pos: float = ASL_DEFAULTS['gamma_pos'],
                       gamma_neg: float = ASL_DEFAULTS['gamma_neg'],
                       clip: float = ASL_DEFAULTS['clip'],
                       alpha: Optional[float] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None,
                       activated: bool = False,
                       eps: float = ASL_DEFAULTS['eps'],
                       detach_focal_weight: bool = False,
                       reject_above: Optional[float] = None,
                       mirror_weight: float = 0.0) -> Tensor:
    """Plain-autograd reference of :func:`asymmetric_loss`: the paper's formula, line by line.

    The oracle the fast path is tested against (as mmdet's ``py_sigmoid_focal_loss`` is for
    ``sigmoid_focal_loss``): the same arguments, target forms, weighting and reduction, each
    element written as in the paper (ASL, eq. 6-7) and differentiated by autograd, in
    :func:`compute_dtype`. Per element, ``p = sigmoid(x)`` (``pred`` itself with
    ``activated``), ``p_m = max(p - clip, 0)``::

        L+ = -(1 - p)^gamma_pos * log(p)              positive (binary target 1)
        Lq = BCE(p, s) * |s - p|^gamma_pos            positive with quality score s
        L- = -p_m^gamma_neg * log(1 - p_m)            negative

    positives times ``alpha`` and negatives times ``1 - alpha`` when ``alpha`` is given. With
    ``reject_above`` a negative with ``p > reject_above`` costs ``-mirror_weight * (1 - alpha)
    * (1 - p)^gamma_pos * log(p)`` (no ``1 - alpha`` without alpha; 0 for ``mirror_weight``
    0) instead of ``L-``. Logs of logits are log-sigmoids (``log(p) = logsigmoid(x)``,
    ``log(1 - p) = logsigmoid(-x)``), of probabilities clamped at ``eps`` as in the paper's
    code. Slow: several (N, C) temporaries and autograd's graph; for tests and for reading, not
    for training.
    """
    if isinstance(pred, Tensor) and pred.dim() == 1:  # one score per element: as one class
        pred, target = one_class_view(pred, target)
        loss = py_asymmetric_loss(
            pred, target, weight, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip,
            alpha=alpha, reduction=reduction, avg_factor=avg_factor, activated=activated,
            eps=eps, detach_focal_weight=detach_focal_weight, reject_above=reject_above,
            mirror_weight=mirror_weight)
        return loss.view(-1) if reduction == 'none' else loss
    check_reduction(reduction, avg_factor)
    check_asl_params(gamma_pos, gamma_neg, clip, alpha, eps, reject_above, mirror_weight)
    check_flags(activated=activated, detach_focal_weight=detach_focal_weight)
    check_pred(pred)
    target = check_target(target, pred)
    x = pred.to(compute_dtype(pred.dtype))
    if activated:
        p = x
        log_p, log_1mp = p.clamp(min=eps).log(), (1 - p).clamp(min=eps).log()
    else:
        p = x.sigmoid()
        log_p, log_1mp = F.logsigmoid(x), F.logsigmoid(-x)
    p_m = (p - clip).clamp(min=0)
    if clip == 0:
        log_1mp_m = log_1mp
    elif activated:
        log_1mp_m = (1 - p_m).clamp(min=eps).log()
    else:
        log_1mp_m = torch.log1p(-p_m)  # 1 - p_m >= clip: no clamp needed

    def focal_weight(base: Tensor, gamma: float) -> Tensor:
        # base ** gamma; where base is 0 its value with derivative 0 (pow's derivative there is
        # infinite for 0 < gamma < 1, and inf * 0 would make the gradient NaN)
        safe = base.clamp(min=torch.finfo(base.dtype).tiny)
        weight = torch.where(base > 0, safe ** gamma, base.detach() ** gamma)
        return weight.detach() if detach_focal_weight else weight

    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
    negative = -a_neg * focal_weight(p_m, gamma_neg) * log_1mp_m
    if reject_above is not None:  # confident negatives: the mirror term, or nothing
        if mirror_weight > 0:
            mirror = -mirror_weight * a_neg * focal_weight(1 - p, gamma_pos) * log_p
        else:
            mirror = torch.zeros_like(negative)
        negative = torch.where(p > reject_above, mirror, negative)
    if isinstance(target, Tensor) and target.dim() == 2:      # (N, C) soft target y
        y = target.to(x.dtype)
        positive = -a_pos * focal_weight(1 - p, gamma_pos) * log_p
        loss = y * positive + (1 - y) * negative
    else:                                                      # labels, or (labels, scores)
        labels, scores = target if is_quality_target(target) else (target, None)
        num_classes = x.size(1)
        labelled = F.one_hot(labels.long(), num_classes + 1)[:, :num_classes].bool()
        if scores is None:
            positive = -a_pos * focal_weight(1 - p, gamma_pos) * log_p
        else:
            s = scores.to(x.dtype)[:, None]
            bce = -(s * log_p + (1 - s) * log_1mp)
            positive = a_pos * focal_weight((s - p).abs(), gamma_pos) * bce
        loss = torch.where(labelled, positive, negative)
    weight = weight_view(weight, pred)
    if weight is not None:
        loss = loss * weight
    if is_quality_target(target):  # QualityFocalLoss's per-prior loss: summed over classes
        loss = loss.sum(dim=1)
    return weight_reduce_loss(loss, None, reduction, avg_factor)


def _times_weight(loss: Tensor, weight: Optional[Tensor]) -> Tensor:
    """``loss * weight`` as a new tensor (``weight`` None, (N, 1) or (N, C)), so that autograd
    reaches ``weight``."""
    return loss if weight is None else loss * weight


@MODELS.register_module()
class AsymmetricLoss(nn.Module):
    """`Asymmetric Loss <https://arxiv.org/abs/2009.14119>`_, a drop-in for ``FocalLoss``.

    Defaults: :data:`ASL_DEFAULTS` (the paper's recommended setting and MMPretrain's ASL), no
    ``alpha``. Takes every target form of :func:`asymmetric_loss`: integer labels where a head
    uses ``FocalLoss``, ``(labels, scores)`` where it uses ``QualityFocalLoss`` (GFL, RTMDet;
    TOOD with ``activated=True``).

    Args:
        use_sigmoid: must be True (heads read it to size their classifier without background).
        gamma_pos, gamma_neg, clip, alpha, eps, detach_focal_weight: see :func:`asymmetric_loss`.
            ``gamma_pos == gamma_neg == g, clip == 0, alpha == a`` is ``FocalLoss(gamma=g,
            alpha=a)`` on labels; ``gamma_pos == gamma_neg == b, clip == 0`` is
            ``QualityFocalLoss(beta=b)`` on (labels, scores).
        reduction: 'none', 'mean' or 'sum'.
        loss_weight: multiplier of the loss.
        activated: inputs are probabilities instead of logits (TOOD's heads pass them).
        compiled: run the ``torch.compile`` fused forward/backward: loss, weighting, reduction
            and derivative in one kernel over (N, C). One-off compile cost of seconds; no
            recompile when N changes; an integral ``gamma_neg`` / ``gamma_pos`` is compiled in
            as a constant (a graph per value), all non-integral values share one graph, so the
            adaptive-asymmetry hook's updates do not recompile. Eager otherwise.
        score_activation: how the head turns logits into detection scores at inference.
            'shifted' (default) gives ``max(sigmoid(x) - clip, 0)``: the background scores that an
            ASL model leaves below the margin become 0 instead of crowding NMS. 'sigmoid' keeps
            mmdet's plain sigmoid. With ``clip == 0`` both are the same.
        reject_above, mirror_weight: rejection of confident negatives (likely unlabelled
            objects), off by default; see :func:`asymmetric_loss`. A negative with
            ``p > reject_above`` gets no ``L-`` but ``mirror_weight * a_neg * L+`` (0: ignored).
            This is the per-element rule of BRL's ``MirrorFocalLoss`` (Background
            Recalibration Loss, ICASSP 2020, arXiv 2002.05274; thresh = ``reject_above``, beta
            = ``mirror_weight``), applied here to every negative (BRL applies it to negatives
            with IoU < 0.1 to every box only, focal loss elsewhere). BRL's class defaults are
            thresh 0.1 / beta 0 (ignore); its config uses thresh 0.5 / beta 1, i.e.
            ``reject_above=0.5, mirror_weight=1.0`` with focal's ``gamma_pos == gamma_neg ==
            2, clip == 0, alpha == 0.25``. Inference scores are unchanged.

    Attributes:
        gamma_neg: current negative exponent; ``AdaptiveAsymmetryHook`` changes it in training.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 gamma_pos: float = ASL_DEFAULTS['gamma_pos'],
                 gamma_neg: float = ASL_DEFAULTS['gamma_neg'],
                 clip: float = ASL_DEFAULTS['clip'],
                 alpha: Optional[float] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 activated: bool = False,
                 eps: float = ASL_DEFAULTS['eps'],
                 detach_focal_weight: bool = False,
                 compiled: bool = False,
                 score_activation: str = 'shifted',
                 reject_above: Optional[float] = None,
                 mirror_weight: float = 0.0):
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError('use_sigmoid must be True: AsymmetricLoss is a sigmoid '
                             f'(multi-label) loss, got use_sigmoid={use_sigmoid!r}')
        check_asl_params(gamma_pos, gamma_neg, clip, alpha, eps, reject_above, mirror_weight)
        check_flags(activated=activated, detach_focal_weight=detach_focal_weight,
                    compiled=compiled)
        check_reduction(reduction)
        check_number('loss_weight', loss_weight, 0, math.inf, high_open=True)
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
        self.activated = bool(activated)
        self.eps = eps
        self.detach_focal_weight = bool(detach_focal_weight)
        self.compiled = bool(compiled)
        self.score_activation = score_activation
        self.reject_above = None if reject_above is None else float(reject_above)
        self.mirror_weight = float(mirror_weight)
        # mmdet's dense heads call get_activation() for scores when this attribute is set.
        self.custom_cls_channels = score_activation == 'shifted' and self.clip > 0
        self.custom_activation = self.custom_cls_channels

    def get_cls_channels(self, num_classes: int) -> int:
        """Classifier channels: one per class, no background channel (sigmoid loss)."""
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """Detection scores (N, C) from logits (N, C): ``max(sigmoid(x) - clip, 0)``
        (``max(p - clip, 0)`` of probabilities when ``activated``)."""
        prob = cls_score if self.activated else cls_score.sigmoid()
        return (prob - self.clip).clamp(min=0)

    def forward(self,
                pred: Tensor,
                target: Target,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[int, float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Loss of ``pred`` (N, C) against ``target``: (N,) labels, (N, C) soft targets or
        ``(labels, scores)``; or of an (N,) ``pred`` against (N,) elementwise targets (see
        :func:`asymmetric_loss`).

        ``weight`` is (N,), (N, C) or (N*C,); ``avg_factor`` normalises the sum (mmdet heads pass
        the number of positives; RTMDet passes 1.0 and divides afterwards);
        ``reduction_override`` is None, 'none', 'mean' or 'sum'.
        """
        if reduction_override is not None:
            check_reduction(reduction_override, name='reduction_override')
        reduction = reduction_override if reduction_override else self.reduction
        # validated at construction; AdaptiveAsymmetryHook keeps gamma_neg within its bounds
        hyper = _hyper_parameters(self.gamma_pos, self.gamma_neg, self.clip, self.alpha,
                                  self.detach_focal_weight, self.eps, self.reject_above,
                                  self.mirror_weight)
        loss = _asymmetric_loss(pred, target, weight, hyper, reduction, avg_factor,
                                self.activated, self.compiled)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        rejection = ('' if self.reject_above is None else
                     f', reject_above={self.reject_above}, mirror_weight={self.mirror_weight}')
        return (f'gamma_pos={self.gamma_pos}, gamma_neg={self.gamma_neg}, clip={self.clip}, '
                f'alpha={self.alpha}, reduction={self.reduction}, loss_weight={self.loss_weight}'
                + rejection)

