"""Log the paper's balance statistics (mean probability on positives / negatives) in training."""
from typing import Dict, List, Optional

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from asl_det.models.losses import probability_statistics, weight_view
from asl_det.models.losses.loss_inputs import one_class_view
from asl_det.validation import check_int

STAT_KEYS = ('pos_prob_sum', 'pos_count', 'neg_prob_sum', 'neg_count')
CLASSIFIER_LOSS_KEYS = ('initial_loss_cls', 'loss_cls')
"""Names under which a head holds its classifier losses (its config keys and its attributes), in
training order: TOOD trains ``initial_loss_cls`` (integer labels, probabilities) for its first
``initial_epoch`` epochs, then ``loss_cls``. The ``--asl`` swap (:mod:`asl_det.config.asl_swap`)
reads them too."""


def find_classification_losses(model: nn.Module) -> List[nn.Module]:
    """The sigmoid classification losses of a detector: every submodule named as in
    :data:`CLASSIFIER_LOSS_KEYS` whose ``use_sigmoid`` is True (ASL, FocalLoss,
    QualityFocalLoss, sigmoid CrossEntropyLoss, ...)."""
    if is_model_wrapper(model):
        model = model.module
    return [m for name, m in model.named_modules()
            if name.split('.')[-1] in CLASSIFIER_LOSS_KEYS
            and getattr(m, 'use_sigmoid', False)]


def _is_target(target) -> bool:
    """A tensor, or a ``(labels, scores)`` pair of tensors (quality-target heads)."""
    if isinstance(target, (tuple, list)):
        return len(target) == 2 and all(isinstance(t, torch.Tensor) for t in target)
    return isinstance(target, torch.Tensor)


def _follows_weight_contract(weight, pred: torch.Tensor) -> bool:
    """Whether ``weight`` has a shape the loss accepts for ``pred`` (:func:`weight_view`)."""
    try:
        weight_view(weight, pred)
    except ValueError:
        return False
    return True


@HOOKS.register_module()
class ProbabilityStatisticsHook(Hook):
    """Measure mean p_t on positive and negative elements at every training iteration.

    A forward pre-hook on each classification loss accumulates the weighted sums of
    :func:`~asl_det.models.losses.probability_statistics` over all calls of an iteration (one per
    FPN level for anchor heads); after the iteration they are summed across ranks and logged as
    ``train/asl_pos_prob`` (mean p_t on positives: mean p for binary targets),
    ``train/asl_neg_prob`` (mean p on negatives), ``train/asl_prob_gap`` (dp = mean(1 - p | neg) -
    mean(p_t | pos), the paper's gap) and, for ASL, ``train/asl_gamma_neg``. Every target form of
    the loss counts: integer labels, (N, C) soft targets and the ``(labels, scores)`` tuples of
    quality-target heads (GFL, TOOD, RTMDet), whose positives are the labelled classes of
    foreground rows, with ``p_t = 1 - |s - p|``
    (see :func:`~asl_det.models.losses.probability_statistics`). A call whose inputs are not of
    these forms (or whose weight is outside the loss's weight-shape contract) is not measured.

    Args:
        interval: measure every ``interval`` iterations (1: every iteration).
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 1):
        self.interval = check_int('interval', interval, low=1)
        self._losses: List[nn.Module] = []
        self._handles = []
        self._sums: Optional[Dict[str, torch.Tensor]] = None
        self._active = False

    def before_run(self, runner) -> None:
        if not self.attach(runner.model):
            runner.logger.warning(
                f'{type(self).__name__}: the model has no sigmoid `loss_cls`; nothing to measure')

    def after_run(self, runner) -> None:
        self.detach()

    def attach(self, model: nn.Module) -> List[nn.Module]:
        """Put a forward pre-hook on each classification loss of ``model``; returns them."""
        self._losses = find_classification_losses(model)
        self._handles = [m.register_forward_pre_hook(self._capture, with_kwargs=True)
                         for m in self._losses]
        return self._losses

    def detach(self) -> None:
        """Remove the pre-hooks of :meth:`attach`."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def start(self) -> None:
        """Measure the loss calls from now on (in training mode), from zero."""
        self._sums = None
        self._active = True

    def finish(self) -> Optional[Dict[str, float]]:
        """Stop measuring; the statistics since :meth:`start`, summed over ranks
        (:meth:`reduce_statistics`, a collective)."""
        self._active = False
        return self.reduce_statistics(self._sums)

    def _capture(self, module, args, kwargs):
        if not (self._active and module.training):
            return None
        pred, target = args[0], args[1] if len(args) > 1 else kwargs.get('target')
        weight = args[2] if len(args) > 2 else kwargs.get('weight')
        if isinstance(pred, torch.Tensor) and pred.dim() == 1:  # GLIP, Grounding DINO
            try:
                pred, target = one_class_view(pred, target)
            except ValueError:
                return None
        if not (isinstance(pred, torch.Tensor) and pred.dim() == 2 and _is_target(target)
                and _follows_weight_contract(weight, pred)):
            return None
        stats = probability_statistics(pred, target, weight, getattr(module, 'activated', False))
        if self._sums is None:
            self._sums = stats
        else:
            for key in STAT_KEYS:
                self._sums[key] = self._sums[key] + stats[key]
        return None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._active = False
        if self.every_n_train_iters(runner, self.interval):
            self.start()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._active:
            return
        stats = self.finish()
        if stats is not None:
            self.on_statistics(runner, stats)

    @staticmethod
    def reduce_statistics(sums: Optional[Dict[str, torch.Tensor]]) -> Optional[Dict[str, float]]:
        """Sum the statistics over ranks and turn them into means (Python floats).

        Returns None if no rank measured anything. Every rank must call it (collective).
        """
        local = (torch.stack([sums[k].float() for k in STAT_KEYS]) if sums is not None
                 else torch.zeros(len(STAT_KEYS)))
        all_reduce(local, op='sum')
        pos_sum, pos_count, neg_sum, neg_count = local.tolist()
        if pos_count == 0 and neg_count == 0:
            return None
        pos_prob = pos_sum / pos_count if pos_count > 0 else float('nan')
        neg_correct = neg_sum / neg_count if neg_count > 0 else float('nan')
        return dict(pos_prob=pos_prob, neg_prob=1.0 - neg_correct,
                    prob_gap=neg_correct - pos_prob, pos_count=pos_count, neg_count=neg_count)

    def on_statistics(self, runner, stats: Dict[str, float]) -> None:
        """Log the statistics of one iteration."""
        hub = runner.message_hub
        for key in ('pos_prob', 'neg_prob', 'prob_gap'):
            if stats[key] == stats[key]:  # skip NaN (no positives this iteration)
                hub.update_scalar(f'train/asl_{key}', stats[key])
        gammas = [m.gamma_neg for m in self._losses if hasattr(m, 'gamma_neg')]
        if gammas:
            hub.update_scalar('train/asl_gamma_neg', float(gammas[0]))
