"""The scalar logs mmengine writes in a work dir: where they are, which lines are which.

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
import os.path as osp
import warnings
from typing import List

#: Keys of a validation line that are bookkeeping, not metrics.
NON_METRIC_KEYS = ('step', 'iter', 'epoch', 'time', 'data_time', 'lr', 'memory')


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


def split_lines(lines: List[dict], start_iter: int = 0):
    """Split log lines into (train, val): train lines carry ``iter``; val lines carry metrics.

    Each val line gets ``iter``: the last training iteration logged before it (``start_iter``
    if none: the last one of an earlier sitting's lines). Lines with neither (e.g. an
    evaluation that produced no metrics) are dropped.
    """
    train, val = [], []
    current_iter = start_iter
    for line in lines:
        if 'iter' in line:
            line = _strip_mode(line)
            current_iter = int(line['iter'])
            train.append(line)
        elif any(k not in NON_METRIC_KEYS for k in line):
            val.append(dict(line, iter=current_iter))
    return train, val
