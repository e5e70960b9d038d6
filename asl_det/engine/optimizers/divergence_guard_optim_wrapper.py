"""Stop (or skip the step) when the loss or its gradient stops being finite, before weights rot."""
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from torch import nn

ACTIONS = ('raise', 'skip')


@OPTIM_WRAPPERS.register_module()
class DivergenceGuardOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that checks the loss and the gradients before every optimizer step.

    After ``backward`` (and, under DDP, after the gradient all-reduce, so every rank decides the
    same way) it checks that the total loss and every gradient are finite: one host-device
    synchronisation per step. On failure:

    - ``on_nonfinite='raise'`` (default): raises ``FloatingPointError`` naming the iteration and the
      non-finite loss terms (e.g. ``loss_cls=nan``) before the optimizer step, so no NaN weights
      reach a checkpoint;
    - ``on_nonfinite='skip'``: drops this step's gradients, logs a warning and the count
      ``train/skipped_steps``, and raises once ``max_consecutive_skips`` steps in a row were
      skipped.

    Config: ``optim_wrapper = dict(type='DivergenceGuardOptimWrapper', on_nonfinite='raise',
    optimizer=..., clip_grad=...)``. Use it for fp32 training; AMP's loss scaler already skips
    overflowing fp16 steps by design.
    """

    def __init__(self, *args, on_nonfinite: str = 'raise', max_consecutive_skips: int = 10,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if on_nonfinite not in ACTIONS:
            raise ValueError(f'on_nonfinite must be one of {ACTIONS}, got {on_nonfinite!r}')
        if isinstance(max_consecutive_skips, bool) or not isinstance(max_consecutive_skips, int) \
                or max_consecutive_skips < 1:
            raise ValueError('max_consecutive_skips must be an integer >= 1, got '
                             f'{max_consecutive_skips!r}')
        self.on_nonfinite = on_nonfinite
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self._consecutive_skips = 0
        self._last_terms: Dict[str, torch.Tensor] = {}

    @contextmanager
    def optim_context(self, model: nn.Module):
        self._watch_loss_terms(model)
        with super().optim_context(model):
            yield

    def _watch_loss_terms(self, model: nn.Module) -> None:
        """Wrap ``model.parse_losses`` once to keep a detached copy of each loss term."""
        module = model.module if is_model_wrapper(model) else model
        if getattr(module, '_divergence_guard', None) is self:
            return
        parse_losses = type(module).parse_losses.__get__(module)

        def parse_and_keep(losses):
            self._last_terms = {
                name: (value.detach().mean() if isinstance(value, torch.Tensor) else
                       sum(v.detach().mean() for v in value))
                for name, value in losses.items()}
            return parse_losses(losses)

        module.parse_losses = parse_and_keep
        module._divergence_guard = self

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        loss = self.scale_loss(loss)
        self.backward(loss)
        if self.should_update():
            if self._all_finite(loss):
                self._consecutive_skips = 0
                self.step(**(step_kwargs or {}))
            else:
                self._on_divergence(loss)
            self.zero_grad(**(zero_kwargs or {}))

    def _all_finite(self, loss: torch.Tensor) -> bool:
        grads = [p.grad for group in self.optimizer.param_groups for p in group['params']
                 if p.grad is not None]
        finite = torch.isfinite(loss.detach()).all()
        if grads:
            norms = torch._foreach_norm(grads)
            finite = finite & torch.isfinite(torch.stack(norms).to(finite.device)).all()
        return bool(finite)

    def _on_divergence(self, loss: torch.Tensor) -> None:
        iteration = self.message_hub.get_info('iter')
        bad_terms = [f'{name}={value.item():g}' for name, value in self._last_terms.items()
                     if not torch.isfinite(value)]
        where = ', '.join(bad_terms) if bad_terms else (
            f'loss={loss.item():g} with non-finite gradients' if torch.isfinite(loss)
            else f'loss={loss.item():g}')
        message = f'non-finite training loss or gradient at iteration {iteration}: {where}'
        if self.on_nonfinite == 'raise':
            raise FloatingPointError(
                f'{message}. Training stopped before the optimizer step, so no checkpoint holds '
                'non-finite weights; lower the learning rate, check the data, or set '
                "optim_wrapper.on_nonfinite='skip'.")
        self.skipped_steps += 1
        self._consecutive_skips += 1
        self.message_hub.update_scalar('train/skipped_steps', self.skipped_steps)
        print_log(f'{message}; step skipped ({self._consecutive_skips} in a row)',
                  logger='current', level=30)
        if self._consecutive_skips >= self.max_consecutive_skips:
            raise FloatingPointError(f'{message}; {self._consecutive_skips} consecutive steps '
                                     f'skipped (max_consecutive_skips='
                                     f'{self.max_consecutive_skips}): training diverged')
