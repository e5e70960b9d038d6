"""Train the study grid (variants x annotation conditions x seeds), one record per finished run.

Resumable: a (condition, variant, seed) whose record exists is skipped, so the study is built up
over several sittings, and a killed study loses only the runs in flight. Runs train in spawned
worker processes whose console output goes to ``<work_dir>/console.log``; the terminal shows one
line per run started and finished, with the estimated time left.
"""
import datetime
import os
import os.path as osp
import platform
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from asl_det.benchmark.analysis import load_run
from asl_det.benchmark.glyph_runs import glyph_run_config, quiet_worker_pool, train_quietly
from asl_det.benchmark.glyphs import generate_glyph_detection, write_missing_annotation_split
from asl_det.config.classifier_prior import init_cfg_with_prior
from asl_det.validation import check_int, check_number

from .records import load_records, record_path, write_record
from .variants import DEFAULT_VARIANTS, check_variants, variant_config

#: Metrics kept in a record (``coco/`` prefix dropped).
RECORD_METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m',
                  'bbox_mAP_l')
#: Settings that must match between a study and the records it resumes from (``config``: the
#: baseline config's file name).
SCHEDULE_KEYS = ('config', 'iterations', 'num_train', 'num_val', 'data_seed')
CLEAN = 'clean'


class StudyRunsFailed(RuntimeError):
    """Some runs of a study failed (the others ran and kept their records)."""

    def __init__(self, failures: List[str]):
        self.failures = failures
        super().__init__(f'{len(failures)} run(s) failed: ' + '; '.join(failures))


def condition_name(missing_fraction: float) -> str:
    """'clean' for 0, else 'missing<percent>' (0.5 -> 'missing50')."""
    return CLEAN if missing_fraction == 0 else f'missing{round(100 * missing_fraction):02d}'


@dataclass
class StudySettings:
    """What the study trains.

    ``config_file`` is the baseline detector (the focal demo RetinaNet, or another dense head
    trained with FocalLoss: ``configs/demo/{fcos,atss}_glyphs_focal.py``); each variant replaces
    its ``loss_cls`` and may set its classifier prior (see :mod:`.variants`).
    ``missing_fractions``: one annotation condition per value, 0 = clean; the removed boxes
    depend on ``data_seed`` only, so every variant and seed of a condition sees the same labels.
    ``workers`` runs train at the same time, each with ``cpu_count // workers`` threads.
    """
    config_file: str
    records_dir: str
    work_root: str = 'work_dirs/study'
    data_root: str = 'data/glyphs'
    variants: Sequence[str] = DEFAULT_VARIANTS
    seeds: Sequence[int] = (0, 1, 2)
    missing_fractions: Sequence[float] = (0.0, 0.5)
    max_iters: int = 800
    num_train: int = 2000
    num_val: int = 500
    data_seed: int = 0
    workers: int = 2
    device: str = 'cpu'
    cfg_options: Dict = field(default_factory=dict)

    def validate(self) -> None:
        self.variants = check_variants(self.variants)
        if not self.seeds:
            raise ValueError('seeds must name at least one seed')
        for seed in self.seeds:
            check_int('seeds', seed, 0)
        if not self.missing_fractions:
            raise ValueError('missing_fractions must name at least one condition (0 = clean)')
        for fraction in self.missing_fractions:
            check_number('missing_fractions', fraction, 0.0, 1.0, high_open=True)
        for name in ('max_iters', 'num_train', 'num_val', 'workers'):
            check_int(name, getattr(self, name), 1)
        check_int('data_seed', self.data_seed, 0)
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")

    @property
    def config_name(self) -> str:
        """The baseline config's file name: what a record says it was trained with."""
        return osp.basename(self.config_file)

    def jobs(self) -> List[Tuple[str, float, str, int]]:
        """(condition, missing fraction, variant, seed), a variant's cells before the next's."""
        return [(condition_name(f), f, variant, seed) for variant in self.variants
                for f in self.missing_fractions for seed in self.seeds]


def _versions() -> Dict[str, str]:
    import mmcv
    import mmdet
    import mmengine
    import torch

    import asl_det
    return dict(python=platform.python_version(), torch=torch.__version__,
                mmcv=mmcv.__version__, mmengine=mmengine.__version__, mmdet=mmdet.__version__,
                asl_det=asl_det.__version__)


def run_config(settings: StudySettings, condition: str, variant: str, seed: int, data: Dict,
               train_ann_file: Optional[str]):
    """The mmengine config of one study run: the baseline config with the variant applied."""
    cfg = glyph_run_config(settings.config_file, data, work_dir(settings, condition, variant, seed),
                           seed=seed, max_iters=settings.max_iters,
                           val_interval=settings.max_iters, device=settings.device,
                           train_ann_file=train_ann_file)
    spec = variant_config(variant)
    head = cfg.model.bbox_head
    head.loss_cls = spec['loss_cls']
    if spec['prior'] is not None:
        head.init_cfg = init_cfg_with_prior(head, head.type, spec['prior'])
    if spec['hooks'] is not None:
        cfg.custom_hooks = spec['hooks']
    cfg.merge_from_dict(settings.cfg_options)
    return cfg


def _prior_override(cfg, variant: str) -> Dict:
    """The head initialisation a prior variant set, as a dotted override ({} for the others)."""
    if variant_config(variant)['prior'] is None:
        return {}
    return {'model.bbox_head.init_cfg': cfg.model.bbox_head.init_cfg.to_dict()}


def work_dir(settings: StudySettings, condition: str, variant: str, seed: int) -> str:
    return osp.join(settings.work_root, condition, f'{variant}_seed{seed}')


def train_and_record(settings: StudySettings, job: Tuple, data: Dict,
                     split: Optional[Dict], num_threads: int) -> Dict:
    """Train one job in this (worker) process, evaluate it and write its record."""
    condition, fraction, variant, seed = job
    train_ann_file = osp.relpath(split['ann_file'], data['root']) if split else None
    cfg = run_config(settings, condition, variant, seed, data, train_ann_file)
    shutil.rmtree(cfg.work_dir, ignore_errors=True)  # a run killed earlier: start it afresh
    wall_time = train_quietly(cfg, num_threads)
    run = load_run(cfg.work_dir)
    metrics = {name: run.metric(name) for name in RECORD_METRICS}
    if metrics['bbox_mAP'] is None:
        raise RuntimeError(f'{cfg.work_dir}: the run wrote no bbox_mAP (see console.log)')
    record = dict(
        variant=variant, condition=condition, seed=seed, metrics=metrics,
        per_class_ap={k: round(v, 4) for k, v in run.per_class_ap.items()},
        config=settings.config_name, detector=cfg.model.type,
        loss_cls=dict(cfg.model.bbox_head.loss_cls), overrides=_prior_override(cfg, variant),
        hooks=[dict(h) for h in cfg.get('custom_hooks', [])],
        iterations=run.last_iter, wall_time_s=round(wall_time, 1),
        train_time_s=round(run.train_time_s, 1) if run.train_time_s else None,
        probabilities={k: round(v, 4) for k, v in run.probabilities.items()},
        num_train=settings.num_train, num_val=settings.num_val, data_seed=settings.data_seed,
        missing_fraction=fraction,
        dropped_fraction=round(split['dropped_fraction'], 4) if split else 0.0,
        device=settings.device, threads=num_threads, cpu_count=os.cpu_count(),
        finished=datetime.datetime.now().isoformat(timespec='seconds'), versions=_versions())
    write_record(settings.records_dir, record)
    return record


def prepare_data(settings: StudySettings, log: Callable[[str], None]) -> Tuple[Dict, Dict]:
    """Generate (or reuse) the data; write one missing-annotation split per condition."""
    data = generate_glyph_detection(settings.data_root, num_train=settings.num_train,
                                    num_val=settings.num_val, seed=settings.data_seed)
    splits = {}
    for fraction in settings.missing_fractions:
        if fraction > 0:
            split = write_missing_annotation_split(data['train_ann'], fraction,
                                                   seed=settings.data_seed)
            splits[condition_name(fraction)] = split
            log(f'[study] {condition_name(fraction)}: {split["dropped_annotations"]} of the '
                f'train boxes removed ({split["dropped_fraction"]:.1%}); val is complete')
    return data, splits


def _check_resumable(settings: StudySettings) -> None:
    """Refuse records written with another detector config (by file name), schedule or data:
    they would mix in the table."""
    expected = dict(config=settings.config_name, iterations=settings.max_iters,
                    num_train=settings.num_train, num_val=settings.num_val,
                    data_seed=settings.data_seed)
    for record in load_records(settings.records_dir) if osp.isdir(settings.records_dir) else []:
        found = {key: record.get(key) for key in SCHEDULE_KEYS}
        if found != expected:
            raise ValueError(
                f"{settings.records_dir} holds {record['condition']}/{record['variant']}_seed"
                f"{record['seed']} with {found}, but this study asks for {expected}: use another "
                'records dir or the same settings')


def _duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f'{minutes // 60}h{minutes % 60:02d}m' if minutes >= 60 else f'{minutes}m'


def run_study(settings: StudySettings, log: Callable[[str], None] = print) -> List[Dict]:
    """Train every job of the grid that has no record yet; returns the new records.

    A run that fails is reported and the others go on; at the end :class:`StudyRunsFailed`
    names every failed run (their records are missing, so the next call retries them).
    """
    settings.validate()
    _check_resumable(settings)
    data, splits = prepare_data(settings, log)
    jobs = settings.jobs()
    todo = [job for job in jobs if not osp.isfile(
        record_path(settings.records_dir, job[0], job[2], job[3]))]
    log(f'[study] {len(jobs)} runs in the grid, {len(jobs) - len(todo)} recorded already, '
        f'{len(todo)} to train ({settings.max_iters} iterations each, {settings.workers} at a '
        f'time); logs under {settings.work_root}')
    if not todo:
        return []
    workers = min(settings.workers, len(todo))
    threads = max(1, (os.cpu_count() or 1) // workers)
    records, failures, durations, started = [], [], [], {}
    with quiet_worker_pool(workers) as pool:
        pending = {}
        queue = list(todo)

        def submit():
            job = queue.pop(0)
            number = len(todo) - len(queue)
            started[job] = time.perf_counter()
            log(f'[study] start {number}/{len(todo)}: {job[0]} {job[2]} seed {job[3]}')
            pending[pool.submit(train_and_record, settings, job, data, splits.get(job[0]),
                                threads)] = job

        for _ in range(workers):
            submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                durations.append(time.perf_counter() - started[job])
                left = len(queue) + len(pending)
                eta = sum(durations) / len(durations) * left / workers
                name = f'{job[0]} {job[2]} seed {job[3]}'
                finished = len(records) + len(failures) + 1
                try:
                    record = future.result()
                except Exception as error:  # one broken run must not cost the others
                    failures.append(f'{name}: {type(error).__name__}: {error}')
                    log(f'[study] FAILED {finished}/{len(todo)}: {name}: {type(error).__name__}: '
                        f'{error} (see {work_dir(settings, job[0], job[2], job[3])}/console.log); '
                        f'{left} left, about {_duration(eta)} to go')
                else:
                    records.append(record)
                    metrics = record['metrics']
                    log(f'[study] done {finished}/{len(todo)}: {name}: AP '
                        f"{metrics['bbox_mAP']:.3f}, AP50 {metrics['bbox_mAP_50']:.3f} in "
                        f'{_duration(durations[-1])}; {left} left, about {_duration(eta)} to go')
                if queue:
                    submit()
    if failures:
        raise StudyRunsFailed(failures)
    return records

