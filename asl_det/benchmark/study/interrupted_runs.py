"""Continue a study run that was stopped part-way (the study killed, the machine gone, a
queue's job preempted) from its last checkpoint instead of training it again.

The study saves a checkpoint at every evaluation (:func:`~.plan.set_schedule`) and, when it
starts a run, writes :data:`RUN_FILE` into its work dir: the sha256 of the run config and the
run's command. A later study resumes the run (``tools/train.py --resume <checkpoint>``) only
where both are unchanged and an intact checkpoint is there
(:func:`~asl_det.checkpoint.find_resumable_checkpoint`); else it trains afresh. Commands printed
for a queue (``--print-commands``) carry that ``--resume`` too, decided when they are printed.
mmengine's resume continues bitwise as an uninterrupted run would (``tests/test_reliability/
test_resume.py``); a run stopped between a checkpoint and the evaluation after it gets that
evaluation first (``tools/train.py``'s
:class:`~asl_det.engine.hooks.resumed_validation_hook.ResumedValidationHook`), and a record
is only collected with every evaluation of the schedule logged
(:func:`.runner.check_evaluations`). The record names the checkpoints a run was resumed from
(``resumed_from``); its ``wall_time_s`` is that of the last sitting.
"""
import json
import os.path as osp
from typing import Dict, List, Optional

from asl_det.atomic_files import write_json_atomic
from asl_det.checkpoint import find_resumable_checkpoint
from asl_det.intake.json_files import file_sha256

from .plan import Job, StudySettings, run_config_path, shell_line, work_dir

#: What the study started in a work dir: ``{'config_sha256', 'command', 'resumed_from'}``.
RUN_FILE = 'study_run.json'


def run_identity(settings: StudySettings, job: Job) -> Dict[str, str]:
    """What a checkpoint must have been trained by to be resumed: the run config's sha256 and
    the run's command (:func:`~.plan.shell_line`, seed included)."""
    return dict(config_sha256=file_sha256(run_config_path(settings, job)),
                command=shell_line(settings, job))


def read_run_file(directory: str) -> Optional[Dict]:
    """The :data:`RUN_FILE` of a work dir, or None (absent or unreadable)."""
    try:
        with open(osp.join(directory, RUN_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def started_as_this_run(settings: StudySettings, job: Job) -> Optional[bool]:
    """Whether ``job``'s work dir holds a :data:`RUN_FILE` of this same run (True) or of
    another one (False: another run config or command, a study with other options left it);
    None without one (a run from before the file existed, or none at all)."""
    started = read_run_file(work_dir(settings, job))
    if started is None:
        return None
    return {key: started.get(key) for key in ('config_sha256', 'command')} \
        == run_identity(settings, job)


def checkpoint_to_resume(settings: StudySettings, job: Job) -> Optional[str]:
    """The checkpoint an interrupted run of ``job`` continues from, or None (train afresh):
    the study started this same run in its work dir and left an intact checkpoint there (the
    final one too: a run stopped before its final evaluation gets it on resuming)."""
    if not started_as_this_run(settings, job):
        return None
    return find_resumable_checkpoint(work_dir(settings, job))


def mark_started(settings: StudySettings, job: Job, checkpoint: Optional[str] = None) -> None:
    """Write the work dir's :data:`RUN_FILE` for a run started afresh, or extend its
    ``resumed_from`` for one resumed from ``checkpoint`` (unless that is its last entry
    already: commands printed twice, a run stopped again before its next checkpoint)."""
    directory = work_dir(settings, job)
    resumes = resumed_from(directory) if checkpoint else []
    if checkpoint and resumes[-1:] != [osp.basename(checkpoint)]:
        resumes.append(osp.basename(checkpoint))
    write_json_atomic(dict(run_identity(settings, job), resumed_from=resumes),
                      osp.join(directory, RUN_FILE), indent=1)


def resumed_from(directory: str) -> List[str]:
    """The checkpoint file names the run in ``directory`` was resumed from, in order ([] for a
    run trained in one go, or one the study did not start)."""
    return (read_run_file(directory) or {}).get('resumed_from', [])
