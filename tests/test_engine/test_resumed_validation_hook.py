"""ResumedValidationHook's two decisions: whether the loop validates at the resumed point, and
whether the work dir's logs hold that validation (the whole hook: tests/test_reliability/
test_resumed_validation.py)."""
import os

import pytest
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.utils import calc_dynamic_intervals
from synthetic_runs import train_line, val_line, write_scalars

from asl_det.engine.hooks.resumed_validation_hook import validation_due, validation_logged


class FakeDataloader:
    def __len__(self):
        return 10


def loop(kind, position, end, val_interval, val_begin=1, dynamic_intervals=None, iters=None):
    """A train loop at ``position`` (iteration or epoch) without a runner."""
    built = object.__new__(kind)
    built.val_begin, built.val_interval = val_begin, val_interval
    built.dynamic_milestones, built.dynamic_intervals = calc_dynamic_intervals(
        val_interval, dynamic_intervals)
    if kind is IterBasedTrainLoop:
        built._iter, built._max_iters = position, end
    else:
        built._epoch, built._max_epochs = position, end
        built._iter = position * 10 if iters is None else iters
        built.dataloader = FakeDataloader()
    return built


@pytest.mark.parametrize('kind,position,end,interval,extra,due', [
    (IterBasedTrainLoop, 300, 2400, 300, {}, True),
    (IterBasedTrainLoop, 350, 2400, 300, {}, False),       # a checkpoint between validations
    (IterBasedTrainLoop, 2400, 2400, 1000, {}, True),      # the end always validates
    (IterBasedTrainLoop, 0, 2400, 300, {}, False),         # not resumed
    (IterBasedTrainLoop, 300, 2400, 300, dict(val_begin=600), False),
    (IterBasedTrainLoop, 350, 2400, 300, dict(dynamic_intervals=[(301, 50)]), True),
    (EpochBasedTrainLoop, 10, 12, 5, {}, True),
    (EpochBasedTrainLoop, 12, 12, 5, {}, True),
    (EpochBasedTrainLoop, 11, 12, 5, {}, False),
    (EpochBasedTrainLoop, 10, 12, 5, dict(iters=95), False),  # saved within epoch 10
    (EpochBasedTrainLoop, 279, 300, 10, dict(dynamic_intervals=[(280, 1)]), True),  # RTMDet
])
def test_validation_due_as_the_loop_decides(kind, position, end, interval, extra, due):
    assert validation_due(loop(kind, position, end, interval, **extra)) is due


def test_validation_due_is_false_for_other_loops():
    assert validation_due(object()) is False


def test_validation_logged_by_step(tmp_path):
    work_dir = str(tmp_path)
    write_scalars(work_dir, [train_line(50), train_line(100), val_line(100, 0.5),
                             train_line(150), train_line(200)])  # stopped after checkpoint 200
    assert validation_logged(work_dir, 100, 100, 50)
    assert not validation_logged(work_dir, 200, 200, 50)
    # the second sitting's own file does not count for itself
    write_scalars(work_dir, [val_line(200, 0.5)], timestamp='20240101_010000')
    current = os.path.join(work_dir, '20240101_010000')
    assert not validation_logged(work_dir, 200, 200, 50, exclude_dir=current)
    assert validation_logged(work_dir, 200, 200, 50)


def test_validation_logged_without_a_step_looks_after_the_train_lines(tmp_path):
    """LoggerHook(log_metric_by_epoch=True) in an iteration-based loop logs step 0."""
    work_dir = str(tmp_path)
    write_scalars(work_dir, [train_line(50), train_line(100), val_line(0, 0.5), train_line(150),
                             train_line(200)])
    assert validation_logged(work_dir, 100, None, 50)
    assert validation_logged(work_dir, 120, None, 50)  # logged after the line of 100
    assert not validation_logged(work_dir, 200, None, 50)


def test_validation_logged_ignores_an_earlier_run_in_the_same_work_dir(tmp_path):
    work_dir = str(tmp_path)
    write_scalars(work_dir, [train_line(50), train_line(100), val_line(100, 0.5)],
                  timestamp='20240101_000000')
    write_scalars(work_dir, [train_line(50), train_line(100)],  # a run from scratch
                  timestamp='20240102_000000')
    assert not validation_logged(work_dir, 100, 100, 50)
    write_scalars(work_dir, [val_line(100, 0.5), train_line(150)],  # that run, resumed
                  timestamp='20240103_000000')
    assert validation_logged(work_dir, 100, 100, 50)


def test_validation_logged_in_a_work_dir_without_logs(tmp_path):
    assert not validation_logged(str(tmp_path), 100, 100, 50)
    assert not validation_logged(str(tmp_path / 'absent'), 100, 100, 50)
