"""Run the validation that a resumed run's checkpoint was saved before, where none is logged.

mmengine's train loops save a checkpoint in ``after_train_iter`` / ``after_train_epoch`` and
validate after those hooks. A run stopped between the two resumes from that checkpoint past its
validation: the learning curve silently lacks the point, and for the final checkpoint the run
has no result. :class:`ResumedValidationHook` runs that validation as training resumes.
``tools/train.py`` registers it on ``--resume``; the config is not changed.
"""
import logging
import os.path as osp
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from asl_det.engine.logged_scalars import read_scalars, scalar_files, split_lines


def validation_due(loop) -> bool:
    """Whether ``loop`` (an mmengine ``IterBasedTrainLoop`` / ``EpochBasedTrainLoop``, or a
    subclass) validates at its current iteration / epoch, as its ``run`` decides after a step
    (dynamic intervals included); False for any other loop."""
    if isinstance(loop, IterBasedTrainLoop):
        position, end = loop.iter, loop.max_iters
    elif isinstance(loop, EpochBasedTrainLoop):
        if loop.iter != loop.epoch * len(loop.dataloader):
            return False  # a checkpoint saved within an epoch: no validation followed it
        position, end = loop.epoch, loop.max_epochs
    else:
        return False
    if position == 0:
        return False
    loop._decide_current_val_interval()  # the interval in force at this point
    return position >= loop.val_begin and (position % loop.val_interval == 0 or position == end)


def logged_validation_step(runner, logger: LoggerHook) -> Optional[int]:
    """The ``step`` that ``logger`` gives a validation at the runner's current point in
    ``scalars.json``: the iteration, or the epoch with ``log_metric_by_epoch`` in an
    epoch-based loop; None where the step does not tell the point (``log_metric_by_epoch`` in
    an iteration-based loop logs step 0)."""
    if not logger.log_metric_by_epoch:
        return runner.iter
    return runner.epoch if isinstance(runner.train_loop, EpochBasedTrainLoop) else None


def validation_logged(work_dir: str, iteration: int, step: Optional[int], log_interval: int,
                      exclude_dir: Optional[str] = None) -> bool:
    """Whether the ``scalars.json`` files of ``work_dir`` log a validation after training
    iteration ``iteration``: one at ``step`` or, where the step does not tell (None), one after
    the train line of an iteration in ``(iteration - log_interval, iteration]``.

    Only this run's sittings count: the files after the last one that starts as a run from
    scratch does (its first train line at iteration ``log_interval`` or before), so that a work
    dir reused by another run does not vouch for this one. ``exclude_dir``: a timestamp
    directory left out (the current sitting's).
    """
    try:
        files = scalar_files(work_dir)
    except FileNotFoundError:
        return False
    sittings = []
    for path in files:
        if exclude_dir is not None and \
                osp.abspath(osp.dirname(osp.dirname(path))) == osp.abspath(exclude_dir):
            continue
        lines = read_scalars(path)
        train, _ = split_lines(lines)
        if train and train[0]['iter'] <= log_interval:
            sittings = []
        sittings += lines
    _, val = split_lines(sittings)
    if step is not None:
        return any(line.get('step') == step for line in val)
    return any(iteration - log_interval < line['iter'] <= iteration for line in val)


@HOOKS.register_module()
class ResumedValidationHook(Hook):
    """Before a resumed run trains on, run the validation its loop would have run right after
    the checkpoint it resumed from, unless the work dir's ``scalars.json`` logs one there
    (:func:`validation_logged`; without a LoggerHook it runs it). The main process decides
    for all. Every validation hook (probes, EMA) runs as at any validation."""

    priority = 'LOWEST'  # after the hooks that restore their state in before_train

    def before_train(self, runner) -> None:
        if runner.val_loop is None or not validation_due(runner.train_loop):
            return
        decision = [False]
        if is_main_process():
            logger = next((h for h in runner.hooks if isinstance(h, LoggerHook)), None)
            decision[0] = logger is None or not validation_logged(
                runner.work_dir, runner.iter, logged_validation_step(runner, logger),
                logger.interval, exclude_dir=runner.log_dir)
        broadcast_object_list(decision)
        if not decision[0]:
            return
        point = (f'epoch {runner.epoch}' if isinstance(runner.train_loop, EpochBasedTrainLoop)
                 else f'iteration {runner.iter}')
        print_log(f'validating at {point} before training resumes: the logs of '
                  f'{runner.work_dir} hold no validation after the checkpoint it resumed from '
                  '(the run stopped between the two)', logger='current', level=logging.WARNING)
        runner.val_loop.run()
