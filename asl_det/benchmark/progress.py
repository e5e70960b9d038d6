"""Training progress of mmengine runs read from their logs, and console lines that report it.

For a parent process that waits on training runs it cannot see into (worker processes, or
``python tools/train.py`` subprocesses): each run's mmengine log is
``<work_dir>/<timestamp>/<timestamp>.log``, and its last ``Iter(train)`` / ``Epoch(train)`` line
says how far training is.
"""
import glob
import os
import os.path as osp
import re
import time
from typing import Callable, Dict, Optional, Tuple

#: ``Iter(train) [ 350/800]`` (iteration-based loops).
ITER_LINE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')
#: ``Epoch(train) [3][ 20/37]`` (epoch-based loops: epoch, iteration in it, iterations per epoch).
EPOCH_LINE = re.compile(r'Epoch\(train\)\s*\[\s*(\d+)\]\s*\[\s*(\d+)/(\d+)\]')
#: ``max_epochs`` of ``train_cfg`` in the config mmengine dumps beside the log.
MAX_EPOCHS = re.compile(r'train_cfg\s*=\s*dict\([^)]*?\bmax_epochs\s*=\s*(\d+)', re.S)
TIMESTAMP = re.compile(r'\d{8}_\d{6}')
#: Bytes read from the end of a log, then from further back if no train line is there.
TAIL_BYTES = (64 * 1024, 1024 * 1024)


def newest_log(work_dir: str) -> Optional[str]:
    """The newest ``<work_dir>/<timestamp>/<timestamp>.log``, or None."""
    logs = [path for path in glob.glob(osp.join(glob.escape(work_dir), '*', '*.log'))
            if TIMESTAMP.fullmatch(osp.basename(osp.dirname(path)))
            and osp.basename(path) == osp.basename(osp.dirname(path)) + '.log']
    return max(logs) if logs else None  # timestamps sort by time


def _last_train_line(path: str) -> Optional[re.Match]:
    """The last ``Iter(train)`` or ``Epoch(train)`` match in the tail of ``path``."""
    size = os.path.getsize(path)
    for tail in TAIL_BYTES:
        with open(path, 'rb') as f:
            f.seek(max(0, size - tail))
            text = f.read().decode('utf-8', errors='replace')
        matches = [m for pattern in (ITER_LINE, EPOCH_LINE) for m in pattern.finditer(text)]
        if matches:
            return max(matches, key=lambda m: m.start())
        if tail >= size:
            break
    return None


def _dumped_max_epochs(log_file: str) -> Optional[int]:
    """``train_cfg.max_epochs`` from the config mmengine wrote in the log's folder, or None."""
    config = osp.join(osp.dirname(log_file), 'vis_data', 'config.py')
    if not osp.isfile(config):
        return None
    with open(config, errors='replace') as f:
        match = MAX_EPOCHS.search(f.read())
    return int(match.group(1)) if match else None


def training_progress(work_dir: str,
                      max_epochs: Optional[int] = None) -> Optional[Tuple[int, int]]:
    """(iterations done, total iterations) of the run training in ``work_dir``.

    Read from the last train line in the tail of the newest mmengine log under ``work_dir``.
    For epoch-based training, done = (epoch - 1) * iterations per epoch + iteration, and total =
    ``max_epochs`` * iterations per epoch; without ``max_epochs`` it is read from the config
    mmengine dumps beside the log (``vis_data/config.py``).

    Returns:
        None before the first train line is logged, and for an epoch-based run whose number of
        epochs is not known.
    """
    log_file = newest_log(work_dir)
    if log_file is None:
        return None
    match = _last_train_line(log_file)
    if match is None:
        return None
    if match.re is ITER_LINE:
        return int(match.group(1)), int(match.group(2))
    epoch, iteration, per_epoch = (int(g) for g in match.groups())
    max_epochs = max_epochs or _dumped_max_epochs(log_file)
    if max_epochs is None:
        return None
    return (epoch - 1) * per_epoch + iteration, max_epochs * per_epoch


def format_eta(seconds: float) -> str:
    """``'40s'``, ``'4m'`` or ``'1h 05m'``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f'{seconds}s'
    minutes = int(round(seconds / 60))
    return f'{minutes}m' if minutes < 60 else f'{minutes // 60}h {minutes % 60:02d}m'


class ProgressReporter:
    """Prints one progress line per run in training, at most every ``min_interval_s`` seconds.

    Call :meth:`report` as often as convenient (e.g. from a loop that waits on the runs); a line
    looks like ``[demo] focal seed 0: 350/800 iterations, 1.9 it/s, about 4m left``. The rate is
    measured between successive readings of a run's log (from the first reading that showed
    training to the last one that showed new iterations), so it includes evaluation pauses.
    Finished runs, runs that have not logged a train line yet and runs that logged no new
    iterations since their last line print nothing. ``clock``
    (seconds, monotonic) is an attribute so tests can replace it.
    """

    def __init__(self, log: Callable[[str], None] = print, min_interval_s: float = 30.0,
                 prefix: str = '[demo]'):
        self.log = log
        self.min_interval_s = min_interval_s
        self.prefix = prefix
        self.clock: Callable[[], float] = time.monotonic
        self._first: Dict[str, Tuple[float, int]] = {}    # run -> (time, done) first seen
        self._latest: Dict[str, Tuple[float, int]] = {}   # run -> (time, done) when done changed
        self._printed: Dict[str, Tuple[float, int]] = {}  # run -> (time, done) of its last line

    def report(self, runs: Dict[str, str], max_epochs: Optional[int] = None) -> None:
        """Read each run's progress and print the lines that are due.

        Args:
            runs: run name -> its mmengine work dir.
            max_epochs: for epoch-based training (see :func:`training_progress`).
        """
        now = self.clock()
        for name, work_dir in runs.items():
            progress = training_progress(work_dir, max_epochs)
            if progress is None:
                continue
            done, total = progress
            self._first.setdefault(name, (now, done))
            if name not in self._latest or self._latest[name][1] != done:
                self._latest[name] = (now, done)
            if done >= total:
                continue
            rate = self.rate(name)
            last_time, last_done = self._printed.get(name, (self._first[name][0], None))
            if done == last_done:
                continue  # nothing new since its last line
            if now - last_time >= self.min_interval_s or (name not in self._printed
                                                          and rate is not None):
                self._printed[name] = (now, done)
                self.log(self._line(name, done, total, rate))

    def rate(self, name: str) -> Optional[float]:
        """Iterations per second of run ``name`` so far, or None before two readings differ."""
        if name not in self._first:
            return None
        (t0, done0), (t1, done1) = self._first[name], self._latest[name]
        return (done1 - done0) / (t1 - t0) if done1 > done0 and t1 > t0 else None

    def _line(self, name: str, done: int, total: int, rate: Optional[float]) -> str:
        line = f'{self.prefix} {name}: {done}/{total} iterations'
        if rate is not None:
            line += (f', {rate:.1f} it/s' if rate >= 1 else f', {rate:.2f} it/s')
            line += f', about {format_eta((total - done) / rate)} left'
        return line
