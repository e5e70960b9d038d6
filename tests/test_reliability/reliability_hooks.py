"""Fault-injection and tracing hooks for the reliability tests, registered in mmdet's ``HOOKS``.

Training subprocesses import this module through ``custom_imports`` (the tests put this
directory on ``PYTHONPATH``). Iterations are 1-based, as in the training log.
"""
import hashlib
import json
import os
import os.path as osp
import time

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce, get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

PAUSE_S = 600  # long enough for the test to send its signal, short enough to end a stray run


def _module(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def parameter_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, in ``named_parameters`` order (bitwise identity)."""
    digest = hashlib.sha256()
    for _, param in model.named_parameters():
        digest.update(param.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _pause(marker: str) -> None:
    with open(marker, 'w') as f:
        f.write(str(os.getpid()))
    time.sleep(PAUSE_S)


@HOOKS.register_module()
class ParameterTraceHook(Hook):
    """After every iteration append to ``<out_dir>/trace_rank<R>.jsonl``: iteration, parameter
    digest, all parameters finite, loss averaged over ranks, and gamma_neg of the ASL loss."""

    priority = 'LOWEST'  # after the optimizer step, adaptive asymmetry and checkpointing

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = _module(runner)
        loss = torch.as_tensor(outputs['loss']).detach().float().reshape(1).clone()
        all_reduce(loss, op='mean')
        gammas = [m.gamma_neg for m in model.modules() if hasattr(m, 'gamma_neg')]
        record = dict(iter=runner.iter + 1, rank=get_rank(), digest=parameter_digest(model),
                      finite=all(bool(torch.isfinite(p).all()) for p in model.parameters()),
                      loss=loss.item(), gamma_neg=float(gammas[0]) if gammas else None)
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, f'trace_rank{get_rank()}.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')


@HOOKS.register_module()
class PauseHook(Hook):
    """Before iteration ``at_iter`` write ``marker`` and sleep (the test kills the process).

    Only once: when ``marker`` exists (the resumed run) it does nothing."""

    def __init__(self, at_iter: int, marker: str):
        self.at_iter = at_iter
        self.marker = marker

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at_iter and not osp.exists(self.marker):
            self.stop()

    def stop(self) -> None:
        _pause(self.marker)


@HOOKS.register_module()
class ExitHook(PauseHook):
    """Before iteration ``at_iter`` write ``marker`` and end the process with exit code 3, as a
    crash would (no cleanup). Only once, like PauseHook."""

    def stop(self) -> None:
        open(self.marker, 'w').close()
        os._exit(3)


@HOOKS.register_module()
class ExitAfterCheckpointHook(Hook):
    """After iteration ``at_iter`` is trained and its checkpoint saved, before the validation
    that follows, write ``marker`` and end the process with exit code 3 (no cleanup). Only
    once, like PauseHook."""

    priority = 'LOWEST'  # after CheckpointHook's after_train_iter

    def __init__(self, at_iter: int, marker: str):
        self.at_iter = at_iter
        self.marker = marker

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at_iter and not osp.exists(self.marker):
            open(self.marker, 'w').close()
            os._exit(3)


@HOOKS.register_module()
class PauseInSaveHook(Hook):
    """While saving the checkpoint of iteration ``at_iter``, pause inside the atomic write: after
    the bytes reach the temporary file, before ``fsync`` and the rename. Once, like PauseHook."""

    def __init__(self, at_iter: int, marker: str):
        self.at_iter = at_iter
        self.marker = marker

    def before_save_checkpoint(self, runner, checkpoint):
        if runner.iter + 1 == self.at_iter and not osp.exists(self.marker):
            os.fsync = lambda fd: _pause(self.marker)  # this process is about to be killed


@HOOKS.register_module()
class NaNInjectionHook(Hook):
    """Multiply the output of the submodule named ``term`` (e.g. ``bbox_head.loss_cls``) by NaN
    during the iterations ``at_iters``, on the ranks ``ranks`` (None: all)."""

    def __init__(self, at_iters, term: str = 'bbox_head.loss_cls', ranks=None):
        self.at_iters = set(at_iters)
        self.term = term
        self.ranks = ranks
        self._active = False

    def before_run(self, runner):
        _module(runner).get_submodule(self.term).register_forward_hook(self._poison)

    def _poison(self, module, args, output):
        return output * float('nan') if self._active else output

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._active = runner.iter + 1 in self.at_iters and (
            self.ranks is None or get_rank() in self.ranks)
