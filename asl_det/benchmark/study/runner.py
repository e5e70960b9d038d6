"""Run the study grid locally, print it for a cluster queue, or collect finished work dirs.

Each run is the ``tools/train.py`` command of :mod:`.plan`. Locally, ``workers`` commands run at
once as subprocesses (console output in ``<work_dir>/console.log``), with one progress line per
run at most every 30 s; a run whose command succeeded is collected into its record at once.
Resumable: a (condition, variant, seed) with a record is skipped, so a study is built up over
several sittings, and a run a killed study (or a stopped queue job) left part-way continues
from its last evaluation's checkpoint (:mod:`.interrupted_runs`). A work dir that another run is
training in (it holds ``<work_dir>/.running``: a run started from ``--print-commands``, or by
another study) is left alone and its job skipped; a finished one without a record is collected.
Each local run is a process group of its own: stopping the study (Ctrl-C, SIGTERM, SIGHUP) stops
every run with its data loader workers.
"""
import datetime
import json
import os
import os.path as osp
import platform
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

from asl_det.benchmark.analysis import load_run
from asl_det.engine.validation_schedule import counts_epochs
from asl_det.launch.skipped_images import read_skipped_images
from asl_det.launch.work_dir_lock import work_dir_user

from .interrupted_runs import (
    RUN_FILE,
    checkpoint_to_resume,
    mark_started,
    resumed_from,
    started_as_this_run,
)
from .plan import (
    ConditionData,
    Job,
    StudySettings,
    evaluation_points,
    final_checkpoint_name,
    load_base_config,
    prepare_conditions,
    repo_relative_files,
    shell_line,
    train_command,
    work_dir,
    write_run_configs,
)
from .records import load_records, record_path, write_record
from .variants import variant_config

#: Metrics kept in a record (``coco/`` prefix dropped).
RECORD_METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m',
                  'bbox_mAP_l')
#: Seconds between polls of the running commands.
POLL_S = 5.0
#: Seconds a stopped run gets to clean up after SIGTERM before its process group is killed.
STOP_GRACE_S = 30.0


class StudyRunsFailed(RuntimeError):
    """Some runs of a study failed (the others ran and kept their records)."""

    def __init__(self, failures: List[str]):
        self.failures = failures
        super().__init__(f'{len(failures)} run(s) failed: ' + '; '.join(failures))


def _versions() -> Dict[str, str]:
    import mmcv
    import mmdet
    import mmengine
    import torch

    import asl_det
    return dict(python=platform.python_version(), torch=torch.__version__,
                mmcv=mmcv.__version__, mmengine=mmengine.__version__, mmdet=mmdet.__version__,
                asl_det=asl_det.__version__)


class StudyPlan:
    """The grid of ``settings`` made ready to run: run configs written, conditions hashed."""

    def __init__(self, settings: StudySettings, log: Callable[[str], None] = print):
        settings.validate()
        self.settings = settings
        self.base = load_base_config(settings)
        self.conditions: Dict[str, ConditionData] = prepare_conditions(settings, self.base, log)
        self.config_paths = write_run_configs(settings, self.base, self.conditions)
        self._heads: Dict = {}  # (condition, variant) -> the run config's (loss_cls, init_cfg)
        self.check_resumable()

    @property
    def expected(self) -> Dict:
        """What every record of this study must say (see :meth:`check_resumable`)."""
        loop = self.base.train_cfg
        return dict(config=self.settings.config_name, data_seed=self.settings.data_seed,
                    iterations=loop.get('max_iters') if 'max_epochs' not in loop else None,
                    max_epochs=loop.get('max_epochs'), train_args=self.settings.train_args,
                    # as a record holds them after JSON (a tuple comes back a list)
                    cfg_options=json.loads(json.dumps(self.settings.cfg_options)))

    def check_resumable(self) -> None:
        """Refuse records of another config (by file name), ``--cfg-options``, schedule, data
        (annotation file contents) or ``tools/train.py`` options: they would mix in the
        table."""
        records_dir = self.settings.records_dir
        for record in load_records(records_dir):
            expected = dict(self.expected)
            data = self.conditions.get(record['condition'])
            if data is not None:
                expected.update(train_ann_sha256=data.train_ann_sha256,
                                val_ann_sha256=data.val_ann_sha256)
            self._check_same_variant(record)
            found = {key: record.get(key) for key in ('config', 'data_seed', 'max_epochs')}
            found['iterations'] = record['iterations'] if expected['iterations'] else None
            found['train_args'] = record.get('train_args', [])  # records from before the option
            found['cfg_options'] = record.get('cfg_options', {})  # ... and before this field
            found.update({key: record.get('data', {}).get(key) for key in expected
                          if key.endswith('sha256')})
            if found != expected:
                name = f"{record['condition']}/{record['variant']}_seed{record['seed']}"
                raise ValueError(
                    f'{records_dir} holds {name} with {found}, but this study asks for '
                    f'{expected}: use another records dir or the same config, cfg options, '
                    'schedule, data and train args')

    def _check_same_variant(self, record: Dict) -> None:
        """Refuse a record whose variant name this study defines with another loss or prior."""
        key = (record['condition'], record['variant'])
        if key not in self.config_paths:
            return
        if key not in self._heads:
            from mmengine.config import Config
            head = Config.fromfile(self.config_paths[key]).model.bbox_head
            self._heads[key] = (head.loss_cls.to_dict(),
                                plain_init_cfg(head.get('init_cfg')))
        loss_cls, init_cfg = self._heads[key]
        if (record['loss_cls'], record.get('init_cfg', init_cfg)) != (loss_cls, init_cfg):
            raise ValueError(
                f"{self.settings.records_dir} holds {record['condition']}/{record['variant']}_seed"
                f"{record['seed']} trained with loss_cls {record['loss_cls']} and init_cfg "
                f"{record.get('init_cfg')}, but this study defines {record['variant']} as "
                f'{loss_cls} and {init_cfg}: give the new variant another name')

    def prepare_work_dir(self, job: Job, collected: List[Dict],
                         log: Callable[[str], None] = print,
                         retrain_uncollectable: bool = True) -> Tuple[bool, Optional[str]]:
        """Make ``job``'s work dir ready for its ``tools/train.py`` command; returns (whether to
        train it, the checkpoint to resume from or None).

        Not trained: a work dir another process holds (:func:`~asl_det.launch.work_dir_lock.
        work_dir_user`; said in ``log``), or one that holds a finished run, which is collected
        into its record (appended to ``collected``). A finished run that lacks only its final
        evaluation (stopped after its final checkpoint) resumes from that checkpoint, which
        runs it; any other that cannot be collected is trained again only with
        ``retrain_uncollectable`` (else left as it is, said in ``log``). Else the run continues
        from its last checkpoint where :func:`~.interrupted_runs.checkpoint_to_resume` allows,
        or trains afresh in an emptied work dir; :func:`~.interrupted_runs.mark_started` notes
        which. A work dir that holds files but no :data:`~.interrupted_runs.RUN_FILE` (no study
        trained there) is never emptied: the job is skipped, said in ``log``.
        """
        directory = work_dir(self.settings, job)
        user = work_dir_user(directory)
        if user is not None:
            log(f'[study] skip {job.name}: its work dir is in use by {user}; collect it '
                '(--collect) when that run has finished')
            return False, None
        resume_from = None
        if self.is_finished(job):
            try:
                collected.append(self.collect(job))
            except Exception as error:  # an unusable run: trained again
                if isinstance(error, MissingEvaluations) and error.only_final:
                    resume_from = checkpoint_to_resume(self.settings, job)
                if resume_from is not None:
                    log(f'[study] {job.name}: the finished run in {directory} lacks its final '
                        'evaluation: resumed from its final checkpoint, which runs it')
                elif not retrain_uncollectable:
                    log(f'[study] skip {job.name}: the finished run in {directory} cannot be '
                        f'collected ({error}); left as it is: remove it to train the run again')
                    return False, None
                else:
                    log(f'[study] {job.name}: the finished run in {directory} cannot be '
                        f'collected ({error}): training it again')
            else:
                log(f'[study] collected {job.name}: trained earlier in {directory}')
                return False, None
        else:
            resume_from = checkpoint_to_resume(self.settings, job)
        if resume_from is None:  # a new run, or one that cannot continue: afresh
            if osp.isdir(directory) and os.listdir(directory) \
                    and not osp.isfile(osp.join(directory, RUN_FILE)):  # no study's work dir
                log(f'[study] skip {job.name}: {directory} holds files but no {RUN_FILE}, so no '
                    'study trained there; it is not emptied: move them, or give the study '
                    'another --work-dir')
                return False, None
            shutil.rmtree(directory, ignore_errors=True)
            os.makedirs(directory)
        mark_started(self.settings, job, resume_from)
        return True, resume_from

    def pending(self) -> List[Job]:
        """The jobs of the grid without a record yet."""
        return [job for job in self.settings.jobs() if not osp.isfile(record_path(
            self.settings.records_dir, job.condition, job.variant, job.seed))]

    def is_finished(self, job: Job) -> bool:
        """Whether ``job``'s work dir holds a finished run (its last checkpoint was saved)."""
        marker = osp.join(work_dir(self.settings, job), 'last_checkpoint')
        if not osp.isfile(marker):
            return False
        with open(marker) as f:
            return osp.basename(f.read().strip()) == final_checkpoint_name(self.base)

    def collect(self, job: Job, wall_time_s: Optional[float] = None) -> Dict:
        """Read ``job``'s finished work dir into its record and write it; RuntimeError for a
        run of another run config or command (its ``study_run.json``), :class:`MissingEvaluations`
        for one whose logs lack an evaluation of its schedule (the learning curve would be
        silently short)."""
        from mmengine.config import Config
        settings = self.settings
        directory = work_dir(settings, job)
        if started_as_this_run(settings, job) is False:
            raise RuntimeError(f'{directory}: its {RUN_FILE} names another run config or '
                               'command (a study with other options trained it)')
        run = load_run(directory)
        metrics = {name: run.metric(name) for name in RECORD_METRICS}
        if metrics['bbox_mAP'] is None:
            raise RuntimeError(f'{directory}: the run wrote no bbox_mAP (see console.log)')
        cfg = Config.fromfile(self.config_paths[(job.condition, job.variant)])
        points, by_epoch = evaluation_points(cfg), counts_epochs(cfg.train_cfg)
        check_evaluations(directory, run, points, by_epoch)
        head = cfg.model.bbox_head
        record = dict(
            variant=job.variant, condition=job.condition, seed=job.seed, metrics=metrics,
            per_class_ap={k: round(v, 4) for k, v in run.per_class_ap.items()},
            curve=[dict(iter=line['iter'] if by_epoch else line['step'],
                        bbox_mAP=line.get('coco/bbox_mAP'),
                        bbox_mAP_50=line.get('coco/bbox_mAP_50')) for line in run.val],
            config=settings.config_name, config_file=settings.config_file,
            cfg_options=settings.cfg_options, detector=cfg.model.type,
            loss_cls=head.loss_cls.to_dict(),
            variant_spec=variant_config(job.variant, settings.defined_variants),
            init_cfg=plain_init_cfg(head.get('init_cfg')),
            hooks=recorded_hooks(cfg.get('custom_hooks', [])),
            iterations=run.last_iter if by_epoch else points[-1],
            max_epochs=self.expected['max_epochs'],
            wall_time_s=None if wall_time_s is None else round(wall_time_s, 1),
            resumed_from=resumed_from(directory),
            train_time_s=round(run.train_time_s, 1) if run.train_time_s else None,
            probabilities={k: round(v, 4) for k, v in run.probabilities.items()},
            data=self.conditions[job.condition].as_record(), data_seed=settings.data_seed,
            missing_fraction=job.missing_fraction,
            command=shell_line(settings, job), train_args=settings.train_args,
            skipped_images=read_skipped_images(directory),
            unlabelled_anchors=unlabelled_anchor_record(directory),
            device=settings.device, threads=settings.threads if settings.device == 'cpu' else None,
            cpu_count=os.cpu_count(), finished=datetime.datetime.now().isoformat(
                timespec='seconds'), versions=_versions())
        write_record(settings.records_dir, record)
        return record


class MissingEvaluations(RuntimeError):
    """A finished run whose logs lack evaluations of its schedule. ``only_final``: the final
    evaluation alone is missing (the run stopped after its final checkpoint), which resuming
    from that checkpoint runs (``tools/train.py --resume``)."""

    def __init__(self, message: str, only_final: bool):
        super().__init__(message)
        self.only_final = only_final


def check_evaluations(directory: str, run, points: List[int], by_epoch: bool) -> None:
    """Raise :class:`MissingEvaluations` unless ``run`` (read from ``directory``) logged an
    evaluation at each of ``points`` (:func:`~.plan.evaluation_points`), the final one last. A
    validation is placed by its logged ``step``: its iteration (the study logs them so,
    :func:`~.plan.set_schedule`) or, for an epoch-based loop (``by_epoch``), its epoch."""
    unit = 'epoch' if by_epoch else 'iteration'
    logged = [line.get('step') for line in run.val]
    final_missing = not logged or logged[-1] != points[-1]
    missing = [point for point in points[:-1] if point not in logged]
    problems = []
    if final_missing:
        problems.append(f'the last evaluation is at {unit} {logged[-1] if logged else "none"}, '
                        f'the schedule ends at {points[-1]}')
    if missing:
        problems.append(f'{len(points) - 1 - len(missing)} of the {len(points) - 1} evaluations '
                        f'before the final one are logged (at {unit}s '
                        f'{", ".join(str(step) for step in logged) or "none"}; missing: '
                        f'{", ".join(str(point) for point in missing)})')
    if problems:
        raise MissingEvaluations(f'{directory}: {"; ".join(problems)}',
                                 only_final=final_missing and not missing)


def plain_init_cfg(init_cfg) -> Optional[Union[Dict, List[Dict]]]:
    """A head's ``init_cfg`` as a record keeps it: plain dicts (one, or a list of them, as
    NAS-FCOS's), None for none."""
    if not init_cfg:
        return None
    if isinstance(init_cfg, (list, tuple)):
        return [plain_init_cfg(cfg) for cfg in init_cfg]
    return init_cfg.to_dict() if hasattr(init_cfg, 'to_dict') else dict(init_cfg)


def recorded_hooks(custom_hooks: List[Dict]) -> List[Dict]:
    """A run's ``custom_hooks`` as its record keeps them: each a plain dict, its ``*_file``
    arguments named by :func:`~.plan.repo_relative_files` (the probe's ``full_ann_file``)."""
    return [repo_relative_files(dict(hook)) for hook in custom_hooks]


def unlabelled_anchor_record(directory: str) -> Optional[Dict]:
    """What the run's :data:`~.plan.PROBE_HOOK` measured (None without its file): the
    evaluations' ``iters``, the ``series`` of quantiles, shares above each threshold and the
    separating threshold, rounded to 4 digits, and the probe's ``config`` (less its image ids;
    its files named by :func:`~.plan.repo_relative_files`)."""
    from asl_det.engine.hooks.unlabelled_anchor_probability_hook import (
        OUT_FILE,
        summarise_probe_file,
    )
    path = osp.join(directory, OUT_FILE)
    if not osp.isfile(path):
        return None
    summary = summarise_probe_file(path)
    config = repo_relative_files({k: v for k, v in summary['config'].items()
                                  if k != 'image_ids'})
    series = {key: [None if v is None else round(v, 4) for v in values]
              for key, values in summary['series'].items()}
    return dict(iters=summary['iters'], series=series, config=config)


def _duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f'{minutes // 60}h{minutes % 60:02d}m' if minutes >= 60 else f'{minutes}m'


def _worker_env(settings: StudySettings, slot: int) -> Dict[str, str]:
    env = dict(os.environ)
    if settings.device == 'cpu':
        env.update(OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads))
    else:
        env['CUDA_VISIBLE_DEVICES'] = str(slot)
    return env


def _start(command: List[str], console, env: Dict[str, str]) -> subprocess.Popen:
    """Start a run as the leader of a new process group (:func:`_stop` ends the group)."""
    return subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT, env=env,
                            process_group=0)


def _stop(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """End a run of :func:`_start` and every process of its group: SIGTERM to the run
    (``tools/train.py`` unwinds, removes its work dir marker and stops its data loader
    workers), then, after it exited or ``grace_s`` seconds, SIGKILL to what is left of the
    group (a worker or any other process the run started and did not stop)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is gone already
        pass
    process.wait()


@contextmanager
def _stop_signals_unwind() -> Iterator[None]:
    """While running: a SIGTERM or SIGHUP that would kill this process outright unwinds it as
    ``SystemExit(128 + signal)`` instead, so the runs are stopped (each is its own process
    group, out of reach of the terminal's signals). Handlers set by the caller, and ignored
    signals (``nohup``), stay as they are."""
    import threading
    replaced = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) == signal.SIG_DFL:
                replaced[signum] = signal.signal(signum, _unwind)
    try:
        yield
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)


def _unwind(signum, frame):
    raise SystemExit(128 + signum)


def run_study(settings: StudySettings, log: Callable[[str], None] = print) -> List[Dict]:
    """Train every job of the grid that has no record yet, ``settings.workers`` at a time, and
    collect each into its record; returns the new records.

    A run that fails is reported and the others go on; at the end :class:`StudyRunsFailed`
    names every failed run (their records are missing, so the next call retries them). A job
    whose work dir another run holds (:func:`~asl_det.launch.work_dir_lock.work_dir_user`) is
    skipped with a message; one whose work dir holds a finished run is collected, not trained.
    """
    from asl_det.benchmark.progress import ProgressReporter
    plan = StudyPlan(settings, log)
    jobs, todo = settings.jobs(), plan.pending()
    log(f'[study] {len(jobs)} runs in the grid, {len(jobs) - len(todo)} recorded already, '
        f'{len(todo)} to train ({settings.workers} at a time); logs under {settings.work_root}')
    records, failures, durations = [], [], []
    running: Dict[Job, tuple] = {}
    free_slots = list(range(min(settings.workers, len(todo))))
    queue = list(todo)
    progress = ProgressReporter(log, prefix='[study]')
    with _stop_signals_unwind():
        try:
            while queue or running:
                while queue and free_slots:
                    job = queue.pop(0)
                    train, resume_from = plan.prepare_work_dir(job, records, log)
                    if not train:
                        continue
                    directory = work_dir(settings, job)
                    slot = free_slots.pop(0)
                    console = open(osp.join(directory, 'console.log'), 'a' if resume_from else 'w')
                    process = _start(train_command(settings, job, python=sys.executable,
                                                   resume_from=resume_from),
                                     console, _worker_env(settings, slot))
                    running[job] = (process, slot, console, time.perf_counter())
                    how = f' (resumed from {osp.basename(resume_from)})' if resume_from else ''
                    log(f'[study] start {len(todo) - len(queue)}/{len(todo)}: {job.name}{how}')
                if running:
                    time.sleep(POLL_S)
                progress.report({job.name: work_dir(settings, job) for job in running},
                                max_epochs=plan.expected['max_epochs'])
                for job in [job for job, (process, *_) in running.items()
                            if process.poll() is not None]:
                    process, slot, console, started = running.pop(job)
                    console.close()
                    free_slots.append(slot)
                    durations.append(time.perf_counter() - started)
                    left = len(queue) + len(running)
                    eta = sum(durations) / len(durations) * left / settings.workers
                    finished = len(records) + len(failures) + 1
                    try:
                        if process.returncode != 0:
                            raise RuntimeError(f'tools/train.py exited with {process.returncode}')
                        record = plan.collect(job, durations[-1])
                    except Exception as error:  # one broken run must not cost the others
                        failures.append(f'{job.name}: {error}')
                        log(f'[study] FAILED {finished}/{len(todo)}: {job.name}: {error} (see '
                            f'{work_dir(settings, job)}/console.log); {left} left, about '
                            f'{_duration(eta)} to go')
                    else:
                        records.append(record)
                        metrics = record['metrics']
                        log(f'[study] done {finished}/{len(todo)}: {job.name}: AP '
                            f"{metrics['bbox_mAP']:.3f}, AP50 {metrics['bbox_mAP_50']:.3f} in "
                            f'{_duration(durations[-1])}; {left} left, about '
                            f'{_duration(eta)} to go')
        finally:
            for process, _, console, _ in running.values():
                _stop(process)
                console.close()
    if failures:
        raise StudyRunsFailed(failures)
    return records


def print_commands(settings: StudySettings, log: Callable[[str], None] = print) -> List[str]:
    """Write the run configs and return one shell line per pending run (for a job array): each
    runs as printed from any directory, with this study's interpreter (``sys.executable``), see
    :func:`~.plan.shell_line`.

    Each work dir is made ready as a local study would (:meth:`StudyPlan.prepare_work_dir`): a
    run stopped part-way (a job preempted) gets ``--resume <its last checkpoint>``, a finished
    one is collected instead of printed (one that cannot be collected is left as it is, and
    said), one in use is skipped, any other is emptied for a run afresh. Print again after a
    queue stopped some runs.
    """
    plan = StudyPlan(settings, log)
    lines, collected = [], []
    for job in plan.pending():
        train, resume_from = plan.prepare_work_dir(job, collected, log,
                                                   retrain_uncollectable=False)
        if train:
            lines.append(shell_line(settings, job, python=sys.executable,
                                    resume_from=resume_from))
    return lines


def collect_study(settings: StudySettings, log: Callable[[str], None] = print) -> List[Dict]:
    """Record every pending run whose work dir holds a finished run (and no live run: one in its
    final evaluation has saved its last checkpoint already); returns the new records. Pass the
    settings the runs were printed with (:func:`print_commands`): their ``train_args`` go into
    the records."""
    plan = StudyPlan(settings, log)
    records, unfinished, refused = [], [], []
    for job in plan.pending():
        if plan.is_finished(job) and work_dir_user(work_dir(settings, job)) is None:
            try:
                records.append(plan.collect(job))
            except RuntimeError as error:
                refused.append(f'{job.name} ({error})')
        else:
            unfinished.append(job.name)
    log(f'[study] collected {len(records)} finished run(s)' + (
        f'; not finished yet: {", ".join(unfinished)}' if unfinished else '') + (
        f'; not collected: {"; ".join(refused)}' if refused else ''))
    return records
