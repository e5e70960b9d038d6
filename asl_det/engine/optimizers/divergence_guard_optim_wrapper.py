"""Stop (or skip the step) when the loss or its gradient stops being finite, before weights rot."""
from contextlib import contextmanager
from typing import Dict, Optional

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.dist import all_reduce, get_rank
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from torch import nn

from asl_det.validation import check_int

ACTIONS = ('raise', 'skip')


@OPTIM_WRAPPERS.register_module()
class DivergenceGuardOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that checks the loss and the gradients before every optimizer step.

    After ``backward`` (under DDP: after the gradient all-reduce) it checks that the total loss
    and every gradient are finite, and takes the minimum of that verdict over ranks, so every rank
    steps, skips or raises together: one host-device synchronisation (plus, under DDP, one
    one-element all-reduce) per step. On failure:

    - ``on_nonfinite='raise'`` (default): raises ``FloatingPointError`` naming the iteration
      (1-based, as in the training log) and the non-finite loss terms (e.g. ``loss_cls=nan``)
      before the optimizer step, so no non-finite weights reach a checkpoint;
    - ``on_nonfinite='skip'``: drops this step's gradients (weights and optimizer state stay as
      they were), logs a warning, and raises once ``max_consecutive_skips`` steps in a row were
      skipped.

    Every step logs ``train/skipped_steps`` (skips so far); the counters are saved with the
    optimizer state under ``'divergence_guard'``, so they survive ``--resume``.

    Config (the module registers the wrapper on import; ``import asl_det`` does not):
    ``custom_imports = dict(imports=['asl_det',
    'asl_det.engine.optimizers.divergence_guard_optim_wrapper'])`` and
    ``optim_wrapper = dict(type='DivergenceGuardOptimWrapper', on_nonfinite='raise',
    optimizer=..., clip_grad=...)``. Use it for fp32 (or bf16 autocast) training; AMP's loss
    scaler already skips overflowing fp16 steps by design.
    """

    def __init__(self, *args, on_nonfinite: str = 'raise', max_consecutive_skips: int = 10,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if on_nonfinite not in ACTIONS:
            raise ValueError(f'on_nonfinite must be one of {ACTIONS}, got {on_nonfinite!r}')
        check_int('max_consecutive_skips', max_consecutive_skips, 1)
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
        """Wrap ``model.parse_losses`` once to keep a detached mean of each ``loss*`` term."""
        module = model.module if is_model_wrapper(model) else model
        if getattr(module, '_divergence_guard', None) is self:
            return
        parse_losses = type(module).parse_losses.__get__(module)

        def parse_and_keep(losses):
            terms = {}
            for name, value in losses.items():
                if 'loss' not in name:  # parse_losses sums only these into the total
                    continue
                if isinstance(value, torch.Tensor):
                    terms[name] = value.detach().mean()
                elif isinstance(value, (list, tuple)) and value and all(
                        isinstance(v, torch.Tensor) for v in value):
                    terms[name] = sum(v.detach().mean() for v in value)
            self._last_terms = terms
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
            self.message_hub.update_scalar('train/skipped_steps', self.skipped_steps)
            self.zero_grad(**(zero_kwargs or {}))
        self._last_terms = {}

    def _all_finite(self, loss: torch.Tensor) -> bool:
        """Whether the loss and all gradients are finite on every rank (collective under DDP)."""
        finite = torch.isfinite(loss.detach()).all()
        grads = [p.grad for group in self.optimizer.param_groups for p in group['params']
                 if p.grad is not None]
        if grads:  # a NaN or inf in any gradient makes the total norm non-finite
            total_norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0)
            finite = finite & torch.isfinite(total_norm.to(finite.device))
        flag = finite.to(torch.float32).reshape(1)
        all_reduce(flag, op='min')  # no-op without a process group
        return bool(flag.item() > 0)

    def _on_divergence(self, loss: torch.Tensor) -> None:
        iteration = self.message_hub.get_info('iter', 0) + 1
        bad_terms = [f'{name}={value.item():g}' for name, value in self._last_terms.items()
                     if not torch.isfinite(value)]
        if bad_terms:
            where = ', '.join(bad_terms)
        elif not torch.isfinite(loss.detach()).all():
            where = f'loss={loss.item():g}'
        else:
            where = (f'loss={loss.item():g} with non-finite gradients on rank {get_rank()} or a '
                     'non-finite loss or gradient on another rank')
        message = f'non-finite training loss or gradient at iteration {iteration}: {where}'
        if self.on_nonfinite == 'raise':
            raise FloatingPointError(
                f'{message}. Training stopped before the optimizer step, so no checkpoint holds '
                'non-finite weights; lower the learning rate, check the data, or set '
                "optim_wrapper.on_nonfinite='skip'.")
        self.skipped_steps += 1
        self._consecutive_skips += 1
        print_log(f'{message}; step skipped ({self._consecutive_skips} in a row, '
                  f'{self.skipped_steps} in total)', logger='current', level=30)
        if self._consecutive_skips >= self.max_consecutive_skips:
            raise FloatingPointError(f'{message}; {self._consecutive_skips} consecutive steps '
                                     f'skipped (max_consecutive_skips='
                                     f'{self.max_consecutive_skips}): training diverged')

    def state_dict(self) -> dict:
        """The optimizer's state dict plus the skip counters under ``'divergence_guard'``."""
        state = super().state_dict()
        state['divergence_guard'] = dict(skipped_steps=self.skipped_steps,
                                         consecutive_skips=self._consecutive_skips)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer state; restore the skip counters when the checkpoint has them."""
        state_dict = dict(state_dict)
        guard = state_dict.pop('divergence_guard', None)
        if guard is not None:
            self.skipped_steps = int(guard['skipped_steps'])
            self._consecutive_skips = int(guard['consecutive_skips'])
        super().load_state_dict(state_dict)
