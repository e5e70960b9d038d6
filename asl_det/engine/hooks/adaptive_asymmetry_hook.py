"""Adaptive asymmetry (ASL paper, section 2.7): steer gamma_neg towards a target probability gap."""
import math
from typing import Dict, Optional, Tuple

from mmdet.registry import HOOKS

from asl_det.validation import check_number

from .probability_statistics_hook import ProbabilityStatisticsHook
from .resumed_state import ResumedState


def adapt_gamma_neg(gamma_neg: float, gap: float, target_gap: float, step_size: float,
                    bounds: Tuple[float, float]) -> float:
    """One update ``gamma_neg + step_size * (gap - target_gap)``, kept inside ``bounds``.

    A non-finite ``gap`` (e.g. no positives were seen) leaves ``gamma_neg`` unchanged.
    """
    if not math.isfinite(gap):
        return gamma_neg
    updated = gamma_neg + step_size * (gap - target_gap)
    return min(max(updated, bounds[0]), bounds[1])


@HOOKS.register_module()
class AdaptiveAsymmetryHook(ResumedState, ProbabilityStatisticsHook):
    """Adjust ``gamma_neg`` of every ``AsymmetricLoss`` in the model during training (both of
    TOOD's, ``loss_cls`` and ``initial_loss_cls``, where both are ASL).

    Every ``interval`` iterations it measures the gap ``dp = mean(1 - p | negatives) -
    mean(p_t | positives)`` (summed over ranks, so every rank computes the same value; ``p_t``
    is ``p``, or ``1 - |s - p|`` for a quality target ``s``, see
    :class:`ProbabilityStatisticsHook`), smooths it
    with an exponential moving average, and applies
    ``gamma_neg <- clamp(gamma_neg + step_size * (smoothed_dp - target_gap), *gamma_neg_bounds)``.
    Iterations without positive elements do not update. The state (gamma_neg, smoothed gap,
    number of updates) is saved in checkpoints under ``'adaptive_asymmetry'`` and restored on
    resume (``--resume``) only (:class:`~.resumed_state.ResumedState`): a run that starts from a
    checkpoint's weights (``load_from``, fine-tuning) starts from the config's gamma_neg.

    Args:
        target_gap: dp the training steers to; the paper suggests 0.1.
        step_size: lambda, change of gamma_neg per unit of gap error per update. The paper gives
            none. Default 1e-4: with a typical early gap of ~0.5 gamma_neg moves by ~0.04 per
            1000 iterations, slow enough for a 90k-iteration COCO schedule.
        interval: iterations between measurements/updates.
        momentum: EMA factor of the gap (0: use each iteration's gap as is), in [0, 1).
        gamma_neg_bounds: (low, high) range gamma_neg is kept in, 0 <= low <= high.
    """

    STATE_KEY = 'adaptive_asymmetry'

    def __init__(self,
                 target_gap: float = 0.1,
                 step_size: float = 1e-4,
                 interval: int = 1,
                 momentum: float = 0.9,
                 gamma_neg_bounds: Tuple[float, float] = (0.0, 8.0)):
        super().__init__(interval=interval)
        check_number('target_gap', target_gap, -1.0, 1.0)
        check_number('step_size', step_size, 0.0, math.inf, high_open=True)
        check_number('momentum', momentum, 0.0, 1.0, high_open=True)
        low, high = gamma_neg_bounds
        check_number('gamma_neg_bounds[0]', low, 0.0, math.inf, high_open=True)
        check_number('gamma_neg_bounds[1]', high, low, math.inf, high_open=True)
        self.target_gap = float(target_gap)
        self.step_size = float(step_size)
        self.momentum = float(momentum)
        self.gamma_neg_bounds = (float(low), float(high))
        self.gamma_neg: Optional[float] = None
        self.smoothed_gap: Optional[float] = None
        self.num_updates = 0

    def before_run(self, runner) -> None:
        super().before_run(runner)
        self._losses = [m for m in self._losses if hasattr(m, 'gamma_neg')]
        if not self._losses:
            raise ValueError('AdaptiveAsymmetryHook needs a model whose loss_cls is an '
                             'AsymmetricLoss (with a gamma_neg); none was found')
        starts = sorted({float(loss.gamma_neg) for loss in self._losses})
        if len(starts) > 1:  # one value adapts them all: it would overwrite the others
            raise ValueError(f'AdaptiveAsymmetryHook adapts one gamma_neg shared by the model\'s '
                             f'{len(self._losses)} AsymmetricLosses, which start at {starts}: '
                             'give them the same gamma_neg')
        start = starts[0]
        low, high = self.gamma_neg_bounds
        if not low <= start <= high:
            raise ValueError(f'the loss gamma_neg={start} lies outside gamma_neg_bounds='
                             f'{self.gamma_neg_bounds}')
        self._set_gamma_neg(start)

    def _set_gamma_neg(self, value: float) -> None:
        self.gamma_neg = value
        for loss in self._losses:
            loss.gamma_neg = value

    def on_statistics(self, runner, stats: Dict[str, float]) -> None:
        if stats['pos_count'] > 0 and math.isfinite(stats['prob_gap']):
            gap = stats['prob_gap']
            self.smoothed_gap = gap if self.smoothed_gap is None else (
                self.momentum * self.smoothed_gap + (1 - self.momentum) * gap)
            self._set_gamma_neg(adapt_gamma_neg(self.gamma_neg, self.smoothed_gap,
                                                self.target_gap, self.step_size,
                                                self.gamma_neg_bounds))
            self.num_updates += 1
        super().on_statistics(runner, stats)

    def state_dict(self) -> dict:
        return dict(gamma_neg=self.gamma_neg, smoothed_gap=self.smoothed_gap,
                    num_updates=self.num_updates)

    def load_state_dict(self, state: Optional[dict], runner) -> None:
        if state is None:
            runner.logger.warning('checkpoint has no adaptive_asymmetry state: gamma_neg starts '
                                  f'from the config value {self.gamma_neg}')
            return
        self.smoothed_gap = state['smoothed_gap']
        self.num_updates = state['num_updates']
        self._set_gamma_neg(float(state['gamma_neg']))
