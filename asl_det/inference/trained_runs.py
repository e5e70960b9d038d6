"""The config and final checkpoint of a ``tools/train.py`` work dir (a study run's included).

Config: the one mmengine's visualizer dumped for the latest run
(``<work_dir>/<timestamp>/vis_data/config.py``: the config as trained, ``--cfg-options``
merged), else the single ``*.py`` mmengine's ``Runner`` dumps into the work dir. Checkpoint: the
one ``--resume`` would continue from (:func:`asl_det.checkpoint.find_resumable_checkpoint`:
the recorded last checkpoint if intact, else the newest intact ``iter_N`` / ``epoch_N``).
"""
import glob
import os.path as osp
from dataclasses import dataclass
from typing import Optional

from asl_det.checkpoint import find_resumable_checkpoint

from .inputs import InferenceSetupError


@dataclass(frozen=True)
class TrainedRun:
    """A trained detector: ``name`` (for display), ``work_dir``, ``config`` and ``checkpoint``
    paths."""
    name: str
    work_dir: str
    config: str
    checkpoint: str


def find_trained_run(work_dir: str, name: Optional[str] = None) -> TrainedRun:
    """The :class:`TrainedRun` of ``work_dir`` (``name`` defaults to its basename).

    Raises:
        InferenceSetupError: not a folder, no dumped config, or no intact checkpoint.
    """
    name = name or osp.basename(osp.normpath(work_dir))
    if not osp.isdir(work_dir):
        raise InferenceSetupError(f'work dir {work_dir!r} ({name}) is not a folder')
    dumped = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py')))
    top_level = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if dumped:
        config = dumped[-1]  # timestamps sort in time order
    elif len(top_level) == 1:
        config = top_level[0]
    else:
        raise InferenceSetupError(
            f'work dir {work_dir!r} ({name}): no config dumped by training '
            f'(<timestamp>/vis_data/config.py, or a single *.py; found {len(top_level)})')
    checkpoint = find_resumable_checkpoint(work_dir)
    if checkpoint is None:
        raise InferenceSetupError(f'work dir {work_dir!r} ({name}) holds no intact checkpoint')
    return TrainedRun(name, work_dir, config, checkpoint)
