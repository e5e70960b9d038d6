"""Read a training run (an mmengine work dir written by ``tools/train.py``) into a :class:`Run`.

The lines of its ``scalars.json`` files (one per sitting; a resumed run adds one), as
:mod:`asl_det.engine.logged_scalars` reads and splits them: read in order, later lines win.
"""
import math
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from asl_det.engine.logged_scalars import NON_METRIC_KEYS, read_scalars, scalar_files, split_lines
from asl_det.validation import check_distinct, check_int

#: Probability statistics logged by ``ProbabilityStatisticsHook``.
PROBABILITY_KEYS = ('asl_pos_prob', 'asl_neg_prob', 'asl_prob_gap', 'asl_gamma_neg')
PER_CLASS_SUFFIX = '_precision'


@dataclass
class Run:
    """One training run.

    Attributes:
        name: display name (default: the work dir's basename).
        work_dir: the directory it was read from.
        train: train log lines in iteration order (dicts with ``iter``, ``loss``, ...).
        val: validation results in order, each a dict with ``step`` (as logged), ``iter`` (the
            training iteration it followed) and the metrics (``coco/bbox_mAP``, ...).
        final_metrics: the metrics of the last validation ({} if none).
        per_class_ap: class name -> AP (COCO AP@[.5:.95]) of the last validation; {} when the
            run was evaluated without ``classwise=True``. NaN: no ground truth of that class.
        train_time_s: estimated training time in seconds (sum over train lines of the mean
            iteration time times the iterations it covers), None if not logged.
        probabilities: mean of each of ``PROBABILITY_KEYS`` over the last ``window`` train
            lines that have it (keys absent when not logged).
    """
    name: str
    work_dir: str
    train: List[dict] = field(default_factory=list)
    val: List[dict] = field(default_factory=list)
    final_metrics: Dict[str, float] = field(default_factory=dict)
    per_class_ap: Dict[str, float] = field(default_factory=dict)
    train_time_s: Optional[float] = None
    probabilities: Dict[str, float] = field(default_factory=dict)

    @property
    def last_iter(self) -> Optional[int]:
        """The last logged training iteration (None without train lines)."""
        return self.train[-1]['iter'] if self.train else None

    def metric(self, name: str) -> Optional[float]:
        """Final value of metric ``name`` (``'bbox_mAP'`` finds ``'coco/bbox_mAP'``)."""
        return find_metric(self.final_metrics, name)


def run_names(work_dirs: List[str], names: Optional[List[str]] = None) -> List[str]:
    """The display name of each work dir (``names``, else its basename); ValueError for a work
    dir that is no folder, or names that repeat (their rows could not be told apart)."""
    missing = [d for d in work_dirs if not osp.isdir(d)]
    if missing:
        raise ValueError(f'work dir {missing[0]!r} is not a folder')
    names = list(names) if names is not None else [
        osp.basename(osp.normpath(d)) for d in work_dirs]
    return check_distinct('run names (--names, default: the work dirs\' basenames)', names)


def check_runs(runs) -> None:
    """Raise ValueError unless ``runs`` holds at least one :class:`Run`."""
    if not runs:
        raise ValueError('runs must hold at least one Run')


def find_metric(metrics: Dict[str, float], name: str) -> Optional[float]:
    """``metrics[name]``, or the value of the key ``<prefix>/<name>``; None if absent."""
    if name in metrics:
        return metrics[name]
    for key, value in metrics.items():
        if key.rsplit('/', 1)[-1] == name:
            return value
    return None


def _merge_by_key(keyed: List[Tuple[tuple, dict]]) -> List[dict]:
    """The lines sorted by key; for a repeated key (a resumed run logs it again) the later
    line wins."""
    by_key = dict(keyed)
    return [by_key[key] for key in sorted(by_key)]


def _val_key(line: dict) -> tuple:
    step = line.get('step')
    return line['iter'], step if isinstance(step, int) else 0


def _sittings(work_dir: str) -> Tuple[List[dict], List[dict]]:
    """(train, val) lines of every ``scalars.json`` of ``work_dir``, merged. A train line is
    keyed by its ``iter``, a validation by (``iter``, ``step``, its rank among the validations
    of its file with that ``iter`` and ``step``): validations after one logged train line stay
    apart (a logging interval longer than the validation interval; LoggerHook's step 0 in an
    iteration-based loop), and a sitting that logs a point again replaces it. Validations a
    sitting logs before its first train line (``ResumedValidationHook``'s, run only where the
    point is missing) rank after the earlier sittings' of the same key."""
    train, val, current = [], [], 0
    ranks: Counter = Counter()  # the highest rank of each (iter, step) so far
    for path in scalar_files(work_dir):
        lines = read_scalars(path)
        first = next((i for i, line in enumerate(lines) if 'iter' in line), len(lines))
        _, leading = split_lines(lines[:first], start_iter=current)
        file_train, file_val = split_lines(lines[first:], start_iter=current)
        seen: Counter = Counter()
        for line in leading:
            key = _val_key(line)
            ranks[key] += 1
            val.append((key + (ranks[key], ), line))
        for line in file_val:
            key = _val_key(line)
            seen[key] += 1
            ranks[key] = max(ranks[key], seen[key])
            val.append((key + (seen[key], ), line))
        train += [((line['iter'], ), line) for line in file_train]
        if file_train:
            current = file_train[-1]['iter']
    return _merge_by_key(train), _merge_by_key(val)


def metrics_of(val_line: dict) -> Dict[str, float]:
    """The metrics of a validation line (bookkeeping keys removed)."""
    return {k: v for k, v in val_line.items() if k not in NON_METRIC_KEYS}


def per_class_ap_of(metrics: Dict[str, float]) -> Dict[str, float]:
    """Class name -> AP from CocoMetric's classwise keys ``<prefix>/<class>_precision``."""
    result = {}
    for key, value in metrics.items():
        prefix, sep, rest = key.partition('/')
        if sep and rest.endswith(PER_CLASS_SUFFIX):
            result[rest[:-len(PER_CLASS_SUFFIX)]] = value
    return result


def estimate_train_time(train: List[dict]) -> Optional[float]:
    """Seconds of training: sum of ``time`` (mean s/iter) x iterations since the previous line.

    None if no train line has ``time``.
    """
    total, previous, found = 0.0, 0, False
    for line in train:
        if isinstance(line.get('time'), (int, float)):
            total += float(line['time']) * (line['iter'] - previous)
            found = True
        previous = line['iter']
    return total if found else None


def window_means(train: List[dict], keys=PROBABILITY_KEYS, window: int = 10) -> Dict[str, float]:
    """Mean of each key over the last ``window`` train lines that have a finite value of it."""
    check_int('window', window, 1)
    means = {}
    for key in keys:
        values = [float(line[key]) for line in train
                  if isinstance(line.get(key), (int, float)) and math.isfinite(line[key])]
        if values:
            tail = values[-window:]
            means[key] = sum(tail) / len(tail)
    return means


def load_run(work_dir: str, name: Optional[str] = None, window: int = 10) -> Run:
    """Read the run in ``work_dir`` (see the module docstring for the files and keys).

    Args:
        work_dir: a ``tools/train.py`` work dir (or one of its timestamp directories).
        name: display name; default the basename of ``work_dir``.
        window: number of last train lines the probability means are taken over.

    Raises:
        FileNotFoundError: ``work_dir`` is missing or holds no ``scalars.json``.
    """
    train, val = _sittings(work_dir)
    final_metrics = metrics_of(val[-1]) if val else {}
    return Run(
        name=name if name is not None else osp.basename(osp.normpath(work_dir)),
        work_dir=work_dir,
        train=train,
        val=val,
        final_metrics=final_metrics,
        per_class_ap=per_class_ap_of(final_metrics),
        train_time_s=estimate_train_time(train),
        probabilities=window_means(train, window=window))
