"""Run the validation that a resumed run's checkpoint was saved before, where none is logged.

mmengine's train loops save a checkpoint in ``after_train_iter`` / ``after_train_epoch`` and
validate after those hooks. A run stopped between the two resumes from that checkpoint past its
validation: the learning curve silently lacks the point, and for the final checkpoint the run
has no result. :class:`ResumedValidationHook` runs that validation as training resumes.
``tools/train.py`` registers it on ``--resume``; the config is not changed.
"""
import glob
import itertools
import logging
import os.path as osp
from typing import List, Optional

from mmdet.registry import HOOKS
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from asl_det.checkpoint.resume import CHECKPOINT_NAME
from asl_det.engine.logged_scalars import read_scalars, split_lines
from asl_det.engine.validation_schedule import ValidationSchedule

#: What mmengine's Runner logs (``<work_dir>/<timestamp>/<timestamp>.log``) when it resumes.
RESUMED_LINE = 'resumed epoch: '
#: The line of the config a Runner logs as it starts, in a sitting launched to resume.
RESUME_CONFIG_LINE = 'resume = True'


def validation_due(loop, checkpoint: Optional[str] = None) -> bool:
    """Whether ``loop`` (an mmengine ``IterBasedTrainLoop`` / ``EpochBasedTrainLoop``, or a
    subclass) validates at the point it resumed at, as its ``run`` decides after a step
    (:class:`~asl_det.engine.validation_schedule.ValidationSchedule`); False for any other
    loop. In an epoch-based loop only a checkpoint saved at the end of an epoch is followed by
    a validation: ``checkpoint`` named ``epoch_N.pth`` says so, else the iteration must be a
    whole number of epochs of the current data loader."""
    schedule = ValidationSchedule.of_loop(loop)
    if schedule is None:
        return False
    position = loop.epoch if schedule.by_epoch else loop.iter
    if schedule.by_epoch:
        match = CHECKPOINT_NAME.match(osp.basename(checkpoint or ''))
        at_epoch_end = (match.group(0).startswith('epoch_') and int(match.group(1)) == position
                        if match else loop.iter == position * len(loop.dataloader))
        if not at_epoch_end:
            return False
    return schedule.validates_at(position)


def logged_validation_step(runner, logger: LoggerHook) -> Optional[int]:
    """The ``step`` that ``logger`` gives a validation at the runner's current point in
    ``scalars.json``: the iteration, or the epoch with ``log_metric_by_epoch`` in an
    epoch-based loop; None where the step does not tell the point (``log_metric_by_epoch`` in
    an iteration-based loop logs step 0)."""
    if not logger.log_metric_by_epoch:
        return runner.iter
    return runner.epoch if isinstance(runner.train_loop, EpochBasedTrainLoop) else None


def _started_afresh(log: str, lines: List[dict], log_interval: int) -> bool:
    """Whether a sitting (its mmengine ``log`` file and its ``scalars.json`` ``lines``) trained
    from scratch: its log says neither that it resumed nor that it was launched to resume (one
    refused before resuming, e.g. by ``ResumedLossCheckHook``, did not start afresh) or,
    without that log, its first train line is at iteration ``log_interval`` or before."""
    if osp.isfile(log):
        with open(log, errors='replace') as f:
            return not any(RESUMED_LINE in line or line.rstrip() == RESUME_CONFIG_LINE
                           for line in f)
    train, _ = split_lines(lines)
    return bool(train) and train[0]['iter'] <= log_interval


def this_runs_lines(work_dir: str, log_interval: int,
                    exclude_dir: Optional[str] = None) -> List[dict]:
    """The ``scalars.json`` lines of the sittings of the run in ``work_dir``, in order: those
    from the last one that trained from scratch on (a work dir reused by another run does not
    vouch for this one). ``exclude_dir``: a timestamp directory left out (the current one)."""
    lines: List[dict] = []
    for sitting in sorted(glob.glob(osp.join(work_dir, '*', ''))):
        sitting = osp.normpath(sitting)
        if exclude_dir is not None and osp.abspath(sitting) == osp.abspath(exclude_dir):
            continue
        scalars = osp.join(sitting, 'vis_data', 'scalars.json')
        log = osp.join(sitting, osp.basename(sitting) + '.log')
        if not osp.isfile(scalars) and not osp.isfile(log):
            continue  # not a sitting's folder
        own = read_scalars(scalars) if osp.isfile(scalars) else []
        if _started_afresh(log, own, log_interval):
            lines = []
        lines += own
    return lines


def validation_logged(lines: List[dict], iteration: int, step: Optional[int],
                      schedule: ValidationSchedule) -> bool:
    """Whether ``lines`` (a run's ``scalars.json`` lines) log the validation after training
    iteration ``iteration``: one at ``step``; where the step does not tell (None), training
    went on past ``iteration`` (the loop validated first), or as many validations follow the
    last train line up to ``iteration`` as ``schedule`` has points from that line's iteration
    to ``iteration``."""
    train, val = split_lines(lines)
    if step is not None:
        return any(line.get('step') == step for line in val)
    if any(line['iter'] > iteration for line in train):
        return True
    last = max((line['iter'] for line in train), default=0)
    return sum(line['iter'] == last for line in val) >= len(schedule.points(last, iteration))


@HOOKS.register_module()
class ResumedValidationHook(Hook):
    """Before a resumed run trains on, run the validation its loop would have run right after
    the checkpoint it resumed from, unless the work dir's ``scalars.json`` logs one there
    (:func:`validation_logged`; without a LoggerHook it runs it). The main process decides
    for all. Every validation hook (probes, EMA) runs as at any validation. A run resumed at
    its last iteration does not read the training data again (mmengine's loop would load every
    batch it skips before finding nothing left to train)."""

    priority = 'LOWEST'  # after the hooks that restore their state in before_train

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and 0 < loop.iter >= loop.max_iters:
            loop.dataloader_iterator = itertools.repeat(None)  # the skipped batches: unused
        if runner.val_loop is None or not validation_due(loop, runner.cfg.get('load_from')):
            return
        decision = [False]
        if is_main_process():
            logger = next((h for h in runner.hooks if isinstance(h, LoggerHook)), None)
            decision[0] = logger is None or not validation_logged(
                this_runs_lines(runner.work_dir, logger.interval, exclude_dir=runner.log_dir),
                runner.iter, logged_validation_step(runner, logger),
                ValidationSchedule.of_loop(loop))
        broadcast_object_list(decision)
        if not decision[0]:
            return
        point = (f'epoch {runner.epoch}' if isinstance(loop, EpochBasedTrainLoop)
                 else f'iteration {runner.iter}')
        print_log(f'validating at {point} before training resumes: the logs of '
                  f'{runner.work_dir} hold no validation after the checkpoint it resumed from '
                  '(the run stopped between the two)', logger='current', level=logging.WARNING)
        runner.val_loop.run()
