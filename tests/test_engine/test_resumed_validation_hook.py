"""ResumedValidationHook's decisions: whether the loop validates at the resumed point, which
log lines are this run's, and whether they hold that validation (the whole hook:
tests/test_reliability/test_resumed_validation.py)."""
import os

import pytest
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.utils import calc_dynamic_intervals
from synthetic_runs import train_line, val_line, write_scalars

from asl_det.engine.hooks.resumed_validation_hook import (
    this_runs_lines,
    validation_due,
    validation_logged,
)
from asl_det.engine.validation_schedule import ValidationSchedule, counts_epochs


class FakeDataloader:
    def __len__(self):
        return 10


def loop(kind, position, end, val_interval, val_begin=1, dynamic_intervals=None, iters=None):
    """A train loop at ``position`` (iteration or epoch; 10 iterations an epoch), no runner."""
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


def test_an_epoch_checkpoint_says_it_ended_an_epoch_whatever_the_data_loader_holds_now():
    # the data set changed between sittings: 95 iterations are no whole number of epochs now
    resumed = loop(EpochBasedTrainLoop, 10, 12, 5, iters=95)
    assert validation_due(resumed, 'work/epoch_10.pth')
    assert not validation_due(resumed, 'work/iter_95.pth')
    assert not validation_due(resumed, 'work/best_coco_bbox_mAP_iter_95.pth')


def test_validation_due_is_false_for_other_loops():
    assert validation_due(object()) is False


def test_the_schedule_of_a_loop_is_that_of_its_config():
    train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=10,
                     val_begin=20, dynamic_intervals=[(280, 1)])
    built = loop(EpochBasedTrainLoop, 0, 300, 10, val_begin=20, dynamic_intervals=[(280, 1)])
    assert ValidationSchedule.of_loop(built) == ValidationSchedule.of_config(train_cfg)
    assert ValidationSchedule.of_config(train_cfg).points(265, 285) == [270] + list(
        range(279, 286))


class CustomIterLoop(IterBasedTrainLoop):
    pass


@pytest.mark.parametrize('train_cfg,by_epoch', [
    (dict(type='EpochBasedTrainLoop', max_epochs=12), True),
    (dict(type='IterBasedTrainLoop', max_iters=800), False),
    # the class decides, as Runner.build_train_loop builds it, not which length keys are set
    (dict(type=CustomIterLoop, max_iters=800, max_epochs=3), False),
    (dict(type='EpochBasedTrainLoop', max_epochs=12, max_iters=800), True),
    (dict(by_epoch=False, max_iters=800), False),
    (dict(by_epoch=True, max_epochs=12), True),
    # neither type nor by_epoch (or a loop of neither family): the length given
    (dict(max_iters=800), False),
    (dict(max_epochs=12), True),
])
def test_the_loop_kind_is_the_one_mmengine_builds(train_cfg, by_epoch):
    assert counts_epochs(train_cfg) is by_epoch


ITERS = ValidationSchedule.of_config(dict(max_iters=1010, val_interval=500))


def test_validation_logged_by_step():
    lines = [train_line(50), train_line(100), val_line(100, 0.5), train_line(150),
             train_line(200)]  # stopped after the checkpoint of 200
    assert validation_logged(lines, 100, 100, ITERS)
    assert not validation_logged(lines, 200, 200, ITERS)


@pytest.mark.parametrize('lines,iteration,logged', [
    # LoggerHook(log_metric_by_epoch=True) in an iteration-based loop logs step 0
    ([train_line(950), train_line(1000), val_line(0, 0.5)], 1000, True),
    # the final checkpoint (1010) after the validation of 1000, before its own
    ([train_line(950), train_line(1000), val_line(0, 0.5)], 1010, False),
    ([train_line(1000), val_line(0, 0.5), val_line(0, 0.6)], 1010, True),
    ([train_line(950), train_line(1000)], 1000, False),
    # training went on past the point: the loop had validated there
    ([train_line(1000), train_line(1050)], 1000, True),
])
def test_validation_logged_without_a_step_counts_the_points_after_the_last_train_line(
        lines, iteration, logged):
    assert validation_logged(lines, iteration, None, ITERS) is logged


def write_sitting(work_dir, timestamp, lines=None, resumed=None, launched_to_resume=None):
    """A sitting: its scalars (``lines``) and, unless ``resumed`` is None, mmengine's log (its
    config's ``resume`` line says ``launched_to_resume``, by default ``resumed``)."""
    if lines is not None:
        write_scalars(work_dir, lines, timestamp=timestamp)
    if resumed is not None:
        launched_to_resume = resumed if launched_to_resume is None else launched_to_resume
        os.makedirs(os.path.join(work_dir, timestamp), exist_ok=True)
        with open(os.path.join(work_dir, timestamp, f'{timestamp}.log'), 'w') as f:
            f.write(f'mmengine - INFO - Config:\nload_from = None\nresume = {launched_to_resume}\n'
                    + ('mmengine - INFO - resumed epoch: 0, iter: 40\n' if resumed else ''))


def test_this_runs_lines_start_at_its_last_sitting_from_scratch(tmp_path):
    work_dir = str(tmp_path)
    write_sitting(work_dir, '20240101_000000', [train_line(50), val_line(50, 0.1)], False)
    write_sitting(work_dir, '20240102_000000', [train_line(50)], False)  # another run
    write_sitting(work_dir, '20240103_000000', [val_line(40, 0.2), train_line(50)], True)
    write_sitting(work_dir, '20240104_000000', [], True)  # the current one
    assert this_runs_lines(work_dir, 50, exclude_dir=os.path.join(
        work_dir, '20240104_000000')) == [train_line(50), val_line(40, 0.2), train_line(50)]
    # a sitting launched to resume but refused before it resumed (a ResumedLossCheckHook
    # error) did not start afresh
    write_sitting(work_dir, '20240104_120000', resumed=False, launched_to_resume=True)
    assert this_runs_lines(work_dir, 50, exclude_dir=os.path.join(
        work_dir, '20240104_000000')) == [train_line(50), val_line(40, 0.2), train_line(50)]
    # a run from scratch that stopped before writing any scalars still starts the run afresh
    write_sitting(work_dir, '20240105_000000', resumed=False)
    assert this_runs_lines(work_dir, 50) == []


def test_without_mmengines_log_a_sitting_from_scratch_is_told_by_its_first_train_line(
        tmp_path):
    work_dir = str(tmp_path)
    write_sitting(work_dir, '20240101_000000', [train_line(50), val_line(50, 0.1)])
    write_sitting(work_dir, '20240102_000000', [train_line(100)])  # resumed
    assert len(this_runs_lines(work_dir, 50)) == 3
    write_sitting(work_dir, '20240103_000000', [train_line(50)])  # from scratch
    assert this_runs_lines(work_dir, 50) == [train_line(50)]
    assert this_runs_lines(str(tmp_path / 'absent'), 50) == []


def test_a_run_resumed_at_its_end_does_not_read_the_training_data_again():
    from types import SimpleNamespace

    from asl_det.engine.hooks.resumed_validation_hook import ResumedValidationHook
    ended = loop(IterBasedTrainLoop, 2400, 2400, 300)
    ended.dataloader_iterator = iter(())  # would end the loop's advance over 2400 batches
    ResumedValidationHook().before_train(SimpleNamespace(train_loop=ended, val_loop=None))
    assert all(next(ended.dataloader_iterator) is None for _ in range(2400))
    running = loop(IterBasedTrainLoop, 300, 2400, 300)
    running.dataloader_iterator = data = iter(())
    ResumedValidationHook().before_train(SimpleNamespace(train_loop=running, val_loop=None))
    assert running.dataloader_iterator is data
