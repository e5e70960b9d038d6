"""Training progress read from fake mmengine logs, and the rate-limited progress lines."""
from asl_det.benchmark.progress import ProgressReporter, format_eta, training_progress

HEADER = '2024/01/01 10:00:00 - mmengine - INFO - Config:\ntrain_cfg = dict(max_iters=800)\n'


def iter_line(done, total=800):
    return (f'2024/01/01 10:00:00 - mmengine - INFO - Iter(train) [{done:>{len(str(total))}}/'
            f'{total}]  base_lr: 2.0e-03 lr: 2.0e-03  eta: 0:04:00  time: 0.3  loss: 1.0\n')


def epoch_line(epoch, done, per_epoch=37, max_epochs=12):
    epoch_str = f'[{epoch}]'.rjust(len(str(max_epochs)) + 3)
    return (f'2024/01/01 10:00:00 - mmengine - INFO - Epoch(train){epoch_str}'
            f'[{done:>{len(str(per_epoch))}}/{per_epoch}]  lr: 1.0e-02  loss: 1.0\n')


def write_log(work_dir, text, timestamp='20240101_100000', mode='w'):
    log_dir = work_dir / timestamp
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f'{timestamp}.log', mode) as f:
        f.write(text)
    return log_dir


def test_none_before_the_first_train_line(tmp_path):
    assert training_progress(str(tmp_path / 'missing')) is None
    assert training_progress(str(tmp_path)) is None
    write_log(tmp_path, HEADER)
    assert training_progress(str(tmp_path)) is None


def test_iteration_based_progress_from_the_last_train_line(tmp_path):
    write_log(tmp_path, HEADER + iter_line(50) + iter_line(100)
              + '... - Iter(val) [ 50/63]  eta: 0:00:01\n')
    assert training_progress(str(tmp_path)) == (100, 800)
    write_log(tmp_path, iter_line(350), mode='a')
    assert training_progress(str(tmp_path)) == (350, 800)


def test_the_newest_run_of_a_work_dir_counts(tmp_path):
    write_log(tmp_path, iter_line(800), timestamp='20240101_100000')
    write_log(tmp_path, iter_line(50), timestamp='20240102_090000')
    (tmp_path / 'other.log').write_text(iter_line(700))  # not mmengine's layout
    assert training_progress(str(tmp_path)) == (50, 800)


def test_only_the_tail_of_a_long_log_is_read(tmp_path):
    write_log(tmp_path, HEADER + iter_line(50) + 'x' * 200_000 + '\n' + iter_line(400))
    assert training_progress(str(tmp_path)) == (400, 800)
    # a train line far from the end is still found (the tail grows once)
    write_log(tmp_path, iter_line(450) + 'y' * 200_000 + '\n', mode='a')
    assert training_progress(str(tmp_path)) == (450, 800)


def test_epoch_based_progress(tmp_path):
    log_dir = write_log(tmp_path, HEADER + epoch_line(1, 37) + epoch_line(3, 20))
    # (3 - 1) * 37 + 20 done of 12 * 37
    assert training_progress(str(tmp_path), max_epochs=12) == (94, 444)
    # unknown number of epochs: no total, no progress ...
    assert training_progress(str(tmp_path)) is None
    # ... unless the config mmengine dumped beside the log names it
    (log_dir / 'vis_data').mkdir()
    (log_dir / 'vis_data' / 'config.py').write_text(
        "max_epochs = 99\ntrain_cfg = dict(\n    max_epochs=12, type='EpochBasedTrainLoop', "
        'val_interval=1)\n')
    assert training_progress(str(tmp_path)) == (94, 444)


def test_format_eta():
    assert [format_eta(s) for s in (0, 40.4, 240, 3900)] == ['0s', '40s', '4m', '1h 05m']


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_reporter_prints_rate_and_eta_at_most_every_interval(tmp_path):
    focal, asl = tmp_path / 'focal', tmp_path / 'asl'
    runs = {'focal seed 0': str(focal), 'asl seed 0': str(asl)}
    lines, clock = [], FakeClock()
    reporter = ProgressReporter(log=lines.append, min_interval_s=30.0)
    reporter.clock = clock

    reporter.report(runs)  # nothing logged yet
    write_log(focal, HEADER + iter_line(50))
    clock.now += 5
    reporter.report(runs)  # one reading: no rate yet, and not yet due
    assert lines == []

    write_log(focal, iter_line(100), mode='a')
    clock.now += 25
    reporter.report(runs)  # the first rate: 50 iterations in 25 s
    assert lines == ['[demo] focal seed 0: 100/800 iterations, 2.0 it/s, about 6m left']

    for _ in range(5):  # new iterations every 5 s, but the next line waits for 30 s
        clock.now += 5
        write_log(focal, iter_line(100 + 10 * int(clock.now - 1030)), mode='a')
        reporter.report(runs)
    assert len(lines) == 1
    clock.now += 5
    write_log(focal, iter_line(400), mode='a')
    reporter.report(runs)
    assert len(lines) == 2 and lines[1].startswith('[demo] focal seed 0: 400/800 iterations, ')

    # a run that logs no new iterations gets one line (without a rate) once it is due ...
    write_log(asl, iter_line(10))
    reporter.report(runs)
    clock.now += 30
    reporter.report(runs)
    assert lines[-1] == '[demo] asl seed 0: 10/800 iterations'
    # ... and no repeat of the same reading
    count = len(lines)
    clock.now += 60
    reporter.report(runs)
    assert len(lines) == count

    # finished runs print nothing
    write_log(focal, iter_line(800), mode='a')
    clock.now += 60
    count = len(lines)
    reporter.report({'focal seed 0': str(focal)})
    assert len(lines) == count


def test_reporter_prefix_and_slow_rates(tmp_path):
    lines, clock = [], FakeClock()
    reporter = ProgressReporter(log=lines.append, min_interval_s=0.0, prefix='[study]')
    reporter.clock = clock
    write_log(tmp_path, iter_line(50))
    reporter.report({'focal seed 1': str(tmp_path)})
    write_log(tmp_path, iter_line(100), mode='a')
    clock.now += 200
    reporter.report({'focal seed 1': str(tmp_path)})
    assert lines[-1] == '[study] focal seed 1: 100/800 iterations, 0.25 it/s, about 47m left'
