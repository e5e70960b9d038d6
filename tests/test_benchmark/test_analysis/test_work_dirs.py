"""asl_det.benchmark.analysis.work_dirs: reading mmengine scalars.json into a Run."""
import math

import pytest
from synthetic_runs import train_line, val_line, write_scalars

from asl_det.benchmark.analysis import load_run
from asl_det.benchmark.analysis.work_dirs import estimate_train_time, window_means


def test_load_run_splits_train_and_validation(tmp_path):
    lines = ([train_line(i, asl_pos_prob=0.1 * i, asl_neg_prob=0.01, asl_prob_gap=0.5)
              for i in (1, 2)]
             + [val_line(2, 0.1, {'cat': 0.2, 'dog': float('nan')})]
             + [train_line(i) for i in (3, 4)]
             + [val_line(4, 0.3, {'cat': 0.4, 'dog': 0.1})])
    run = load_run(write_scalars(tmp_path / 'my_run', lines))
    assert run.name == 'my_run' and run.work_dir == str(tmp_path / 'my_run')
    assert [line['iter'] for line in run.train] == [1, 2, 3, 4]
    assert [(v['step'], v['iter'], v['coco/bbox_mAP']) for v in run.val] == [(2, 2, 0.1),
                                                                              (4, 4, 0.3)]
    assert run.final_metrics['coco/bbox_mAP'] == 0.3 and 'step' not in run.final_metrics
    assert 'time' not in run.final_metrics
    assert run.metric('bbox_mAP_50') == pytest.approx(0.5)
    assert run.metric('no_such_metric') is None
    assert run.per_class_ap == {'cat': 0.4, 'dog': 0.1}
    assert run.last_iter == 4
    assert load_run(str(tmp_path / 'my_run'), name='other').name == 'other'


def test_val_iter_follows_training_when_step_is_the_epoch(tmp_path):
    # LoggerHook(log_metric_by_epoch=True), its default, logs step=epoch=0 in an IterBasedTrainLoop
    lines = [train_line(1), train_line(5), val_line(0, 0.1), train_line(10), val_line(0, 0.2)]
    run = load_run(write_scalars(tmp_path / 'r', lines))
    assert [(v['step'], v['iter']) for v in run.val] == [(0, 5), (0, 10)]


def test_validations_after_one_train_line_are_kept_apart_by_step(tmp_path):
    # a logging interval longer than the validation interval: one train line, two validations
    lines = [train_line(10), val_line(12, 0.1), val_line(14, 0.2), train_line(20)]
    run = load_run(write_scalars(tmp_path / 'r', lines))
    assert [(v['step'], v['iter'], v['coco/bbox_mAP']) for v in run.val] == [(12, 10, 0.1),
                                                                              (14, 10, 0.2)]


def test_step_zero_validations_of_sittings_are_kept_or_replaced_by_where_they_come(tmp_path):
    """LoggerHook's step 0 in an iteration-based loop: 1010 iterations, validations at 500,
    1000 and 1010, a train line every 50; the run stopped after its final checkpoint."""
    work_dir = tmp_path / 'resumed'
    write_scalars(work_dir, [train_line(500), val_line(0, 0.1), train_line(550),
                             train_line(1000), val_line(0, 0.2)], timestamp='20240101_000000')
    # resumed from the final checkpoint: its validation comes before any train line
    write_scalars(work_dir, [val_line(0, 0.3)], timestamp='20240102_000000')
    run = load_run(str(work_dir))
    assert [(v['iter'], v['coco/bbox_mAP']) for v in run.val] == [(500, 0.1), (1000, 0.2),
                                                                  (1000, 0.3)]
    # a sitting that trains 501-1000 again logs the validation of 1000 again: it replaces it
    write_scalars(work_dir, [train_line(550, loss=2.0), train_line(1000), val_line(0, 0.25)],
                  timestamp='20240101_120000')
    run = load_run(str(work_dir))
    assert [(v['iter'], v['coco/bbox_mAP']) for v in run.val] == [(500, 0.1), (1000, 0.25),
                                                                  (1000, 0.3)]


def test_nan_per_class_and_missing_classwise(tmp_path):
    lines = [train_line(1), val_line(1, 0.2, {'a': float('nan')})]
    run = load_run(write_scalars(tmp_path / 'r', lines))
    assert math.isnan(run.per_class_ap['a'])
    run = load_run(write_scalars(tmp_path / 'plain', [train_line(1), val_line(1, 0.2)]))
    assert run.per_class_ap == {}


def test_run_without_validation(tmp_path):
    # an evaluation without results logs only time / data_time / step: not a validation
    lines = [train_line(1), dict(data_time=0.01, time=0.02, step=1)]
    run = load_run(write_scalars(tmp_path / 'r', lines))
    assert run.val == [] and run.final_metrics == {} and run.per_class_ap == {}


def test_resumed_run_merges_timestamp_directories(tmp_path):
    work_dir = tmp_path / 'resumed'
    write_scalars(work_dir, [train_line(1, loss=9.0), train_line(2, loss=9.0), val_line(2, 0.1),
                             train_line(3, loss=9.0)],  # crashed after iteration 3
                  timestamp='20240101_000000')
    write_scalars(work_dir, [train_line(i, loss=1.0) for i in (3, 4)] + [val_line(4, 0.2)],
                  timestamp='20240102_000000')
    run = load_run(str(work_dir))
    assert [line['iter'] for line in run.train] == [1, 2, 3, 4]
    assert run.train[2]['loss'] == 1.0  # the later run's line wins
    assert [v['iter'] for v in run.val] == [2, 4]
    assert run.final_metrics['coco/bbox_mAP'] == 0.2


def test_train_prefix_is_stripped_and_truncated_line_skipped(tmp_path):
    lines = [{'iter': 1, 'step': 1, 'time': 1.0, 'train/asl_pos_prob': 0.3}]
    work_dir = write_scalars(tmp_path / 'r', lines, tail='{"iter": 2, "lo')
    with pytest.warns(UserWarning, match='not a JSON line'):
        run = load_run(work_dir)
    assert run.probabilities == {'asl_pos_prob': 0.3}
    assert run.last_iter == 1


def test_training_time_weights_by_logging_interval():
    train = [dict(iter=50, time=0.2), dict(iter=100, time=0.4), dict(iter=120, time=1.0)]
    assert estimate_train_time(train) == pytest.approx(50 * 0.2 + 50 * 0.4 + 20 * 1.0)
    assert estimate_train_time([dict(iter=1, loss=1.0)]) is None
    assert estimate_train_time([]) is None


def test_probability_window_means():
    train = [dict(iter=i, asl_pos_prob=float(i), asl_gamma_neg=4.0) for i in range(1, 21)]
    train.append(dict(iter=21, asl_pos_prob=float('nan')))
    means = window_means(train, window=5)
    assert means == {'asl_pos_prob': pytest.approx(18.0), 'asl_gamma_neg': 4.0}
    with pytest.raises(ValueError, match='window'):
        window_means(train, window=0)


def test_missing_work_dirs_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match='not a directory'):
        load_run(str(tmp_path / 'absent'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        load_run(str(tmp_path / 'empty'))


def test_timestamp_directory_itself_is_accepted(tmp_path):
    write_scalars(tmp_path / 'r', [train_line(1), val_line(1, 0.25)], timestamp='20240101_000000')
    run = load_run(str(tmp_path / 'r' / '20240101_000000'), name='ts')
    assert run.final_metrics['coco/bbox_mAP'] == 0.25
