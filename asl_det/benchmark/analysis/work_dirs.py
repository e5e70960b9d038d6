"""Read a training run (an mmengine work dir written by ``tools/train.py``) into a :class:`Run`.

mmengine writes one JSON object per line to ``<work_dir>/<timestamp>/vis_data/scalars.json``:

- train lines (every ``LoggerHook.interval`` iterations): ``iter`` (global, 1-based), ``step``,
  ``lr``, ``time`` and ``data_time`` (seconds per iteration, means over the log processor's
  window), ``loss``, ``loss_cls``, ... and, with ``ProbabilityStatisticsHook``,
  ``asl_pos_prob``, ``asl_neg_prob``, ``asl_prob_gap`` (and ``asl_gamma_neg`` for ASL) -- the
  ``train/`` prefix of the message hub is stripped;
- validation lines: the evaluator's metrics (``coco/bbox_mAP``, ``coco/bbox_mAP_50``, ...,
  ``coco/<class>_precision`` per class with ``classwise=True``), ``time``, ``data_time`` and
  ``step`` -- the iteration, or the epoch when ``LoggerHook(log_metric_by_epoch=True)`` (its
  default; then ``step`` is 0 throughout an ``IterBasedTrainLoop``).

A resumed run adds a timestamp directory; they are read in order and later lines win.
"""
import glob
import json
import math
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from asl_det.validation import check_int

#: Probability statistics logged by ``ProbabilityStatisticsHook``.
PROBABILITY_KEYS = ('asl_pos_prob', 'asl_neg_prob', 'asl_prob_gap', 'asl_gamma_neg')
#: Keys of a validation line that are bookkeeping, not metrics.
NON_METRIC_KEYS = ('step', 'iter', 'epoch', 'time', 'data_time', 'lr', 'memory')
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


def scalar_files(work_dir: str) -> List[str]:
    """The ``scalars.json`` files of ``work_dir``, oldest timestamp first.

    ``work_dir`` may be a training work dir (``<ts>/vis_data/scalars.json`` inside) or one
    timestamp directory (``vis_data/scalars.json``).

    Raises:
        FileNotFoundError: ``work_dir`` is not a directory or holds no ``scalars.json``.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work_dir {work_dir!r} is not a directory')
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    own = osp.join(work_dir, 'vis_data', 'scalars.json')
    if osp.isfile(own):
        files.append(own)
    if not files:
        raise FileNotFoundError(f'work_dir {work_dir!r} has no <timestamp>/vis_data/scalars.json '
                                '(is it a tools/train.py work dir?)')
    return files


def read_scalars(path: str) -> List[dict]:
    """The JSON lines of one ``scalars.json``; undecodable lines (a killed run) are skipped."""
    lines = []
    with open(path) as f:
        for number, text in enumerate(f, 1):
            text = text.strip()
            if not text:
                continue
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                warnings.warn(f'{path}:{number}: not a JSON line, skipped')
    return lines


def _strip_mode(line: dict) -> dict:
    return {(k[len('train/'):] if k.startswith('train/') else k): v for k, v in line.items()}


def split_lines(lines: List[dict]):
    """Split log lines into (train, val): train lines carry ``iter``; val lines carry metrics.

    Each val line gets ``iter``: the last training iteration logged before it (0 if none).
    Lines with neither (e.g. an evaluation that produced no metrics) are dropped.
    """
    train, val = [], []
    current_iter = 0
    for line in lines:
        if 'iter' in line:
            line = _strip_mode(line)
            current_iter = int(line['iter'])
            train.append(line)
        elif any(k not in NON_METRIC_KEYS for k in line):
            val.append(dict(line, iter=current_iter))
    return train, val


def _merge_by_iter(lines: List[dict]) -> List[dict]:
    """Sort by ``iter``; for repeated iterations (a resumed run) the later line wins."""
    by_iter = {}
    for line in lines:
        by_iter[line['iter']] = line
    return [by_iter[i] for i in sorted(by_iter)]


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
    lines = [line for path in scalar_files(work_dir) for line in read_scalars(path)]
    train, val = split_lines(lines)
    train = _merge_by_iter(train)
    val = _merge_by_iter(val)
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
