"""The study's grid as ordinary ``tools/train.py`` commands: one per (condition, variant, seed).

A study takes any mmdet dense-detector config that trains with FocalLoss on a COCO-format data set.
For each (condition, variant) it writes one run config (``<work_root>/configs/<condition>/
<variant>.py``): the user's config, ``--cfg-options`` merged, the schedule set, the variant's
``loss_cls`` / classifier prior / hooks, and for a missing-annotation condition the train
annotations replaced by a copy with a share of the boxes removed (written once per condition
under ``<records_dir>/annotations/``, fixed by the data seed). A run is then

    python tools/train.py <run config> --work-dir <work_root>/<condition>/<variant>_seed<seed>
        [train args, e.g. --skip-bad-images] --cfg-options randomness.seed=<seed>

so the grid runs locally, on a cluster queue, or by hand, and is collected the same way.
"""
import copy
import hashlib
import os
import os.path as osp
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict

from asl_det.config.classifier_prior import init_cfg_with_prior
from asl_det.config.custom_imports import add_custom_import
from asl_det.engine.validation_schedule import (
    DEFAULT_VAL_INTERVAL,
    ValidationSchedule,
    counts_epochs,
)
from asl_det.intake.json_files import file_sha256
from asl_det.intake.preflight import find_datasets, resolve_paths
from asl_det.relative_paths import relative_if_inside
from asl_det.validation import check_distinct, check_int, check_number

from .missing_annotations import write_missing_annotation_split
from .variants import DEFAULT_VARIANTS, check_variants, variant_config

#: The checkout this package runs from (``tools/`` beside ``asl_det/``).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TRAIN_TOOL = osp.join(REPO_ROOT, 'tools', 'train.py')
#: ``tools/train.py`` options the study sets for every run itself: not allowed in ``train_args``.
STUDY_TRAIN_OPTIONS = ('--work-dir', '--cfg-options', '--resume', '--launcher')
CLEAN = 'clean'


def condition_name(missing_fraction: float) -> str:
    """'clean' for 0, else 'missing<percent>' (0.5 -> 'missing50')."""
    return CLEAN if missing_fraction == 0 else f'missing{round(100 * missing_fraction):02d}'


@dataclass
class StudySettings:
    """What the study trains.

    ``config_file``: the baseline detector (a file or ``mmdet::`` path): any dense head whose
    ``loss_cls`` is FocalLoss; each variant replaces ``model.bbox_head.loss_cls`` and may set the
    classifier prior (see :mod:`.variants`). ``cfg_options`` are merged into it first.
    ``missing_fractions``: one annotation condition per value, 0 = the labels as given.
    ``max_iters``: for an ``IterBasedTrainLoop``, the schedule (warm-up kept, decay milestones
    scaled); None keeps the config's. ``evaluations``: evaluations spread over the schedule (the
    learning curve); None keeps the config's ``val_interval``. ``defined_variants``: the user's
    own variants by name (:func:`~.variants.parse_variant`, :func:`~.variants.load_variant_file`)
    beside the named :data:`~.variants.VARIANTS`. ``train_args``: options every run passes to
    ``tools/train.py`` (e.g. ``['--skip-bad-images']``; :func:`check_train_args`), part of each
    record. ``workers`` runs train at once,
    each with ``cpu_count // workers`` threads on CPU, one GPU each on CUDA. ``work_root``: the
    run configs and work dirs; None: ``work_dirs/study/<config name>-<8 hex digits of the
    records dir>``, one per study, so another study of the same config (other schedule, data or
    options) neither overwrites its runs nor has them collected as its own.
    """
    config_file: str
    records_dir: str
    work_root: Optional[str] = None
    variants: Sequence[str] = DEFAULT_VARIANTS
    seeds: Sequence[int] = (0, 1, 2)
    missing_fractions: Sequence[float] = (0.0, 0.5)
    max_iters: Optional[int] = None
    evaluations: Optional[int] = None
    data_seed: int = 0
    workers: int = 1
    device: str = 'cpu'
    cfg_options: Dict = field(default_factory=dict)
    defined_variants: Dict[str, Dict] = field(default_factory=dict)
    train_args: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.work_root is None:
            stem = osp.splitext(osp.basename(self.config_file))[0]
            digest = hashlib.sha1(osp.abspath(self.records_dir).encode()).hexdigest()[:8]
            self.work_root = osp.join('work_dirs', 'study', f'{stem}-{digest}')

    def validate(self) -> None:
        """Every setting in range; errors name the field and ``tools/study.py``'s option."""
        self.variants = check_variants(self.variants, self.defined_variants)
        if not self.seeds:
            raise ValueError('seeds (--seeds) must name at least one seed')
        for seed in self.seeds:
            check_int('seeds (--seeds)', seed, 0)
        check_distinct('seeds (--seeds)', self.seeds)
        if not self.missing_fractions:
            raise ValueError('missing_fractions (--missing-fractions) must name at least one '
                             'condition (0 = as labelled)')
        for fraction in self.missing_fractions:
            check_number('missing_fractions (--missing-fractions)', fraction, 0.0, 1.0,
                         high_open=True)
        names = [condition_name(f) for f in self.missing_fractions]
        if len(set(names)) != len(names):  # one condition's records and runs, twice
            raise ValueError(f'missing_fractions (--missing-fractions) must give distinct '
                             f'conditions (whole percentages), got {list(self.missing_fractions)} '
                             f'-> {names}')
        for name, option in (('max_iters', '--iters'), ('evaluations', '--evaluations')):
            if getattr(self, name) is not None:
                check_int(f'{name} ({option})', getattr(self, name), 1)
        check_int('workers (--workers)', self.workers, 1)
        check_int('data_seed (--data-seed)', self.data_seed, 0)
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        self.train_args = check_train_args(self.train_args)

    @property
    def config_name(self) -> str:
        """The baseline config's file name: what a record says it was trained with."""
        return osp.basename(self.config_file)

    @property
    def threads(self) -> int:
        """CPU threads per run."""
        return max(1, (os.cpu_count() or 1) // self.workers)

    def jobs(self) -> List['Job']:
        """Every run of the grid, seed by seed (each seed's variants and conditions together, so
        a study stopped early leaves complete pairs)."""
        return [Job(condition_name(f), f, variant, seed) for seed in self.seeds
                for f in self.missing_fractions for variant in self.variants]


@dataclass(frozen=True)
class Job:
    """One run of the grid."""
    condition: str
    missing_fraction: float
    variant: str
    seed: int

    @property
    def name(self) -> str:
        return f'{self.condition} {self.variant} seed {self.seed}'


def work_dir(settings: StudySettings, job: Job) -> str:
    return osp.join(settings.work_root, job.condition, f'{job.variant}_seed{job.seed}')


def run_config_path(settings: StudySettings, job: Job) -> str:
    return osp.join(settings.work_root, 'configs', job.condition, f'{job.variant}.py')


def annotated_dataset(loader_cfg: ConfigDict) -> ConfigDict:
    """The one dataset of a dataloader config that holds ``ann_file``, through dataset wrappers
    (:func:`asl_det.intake.preflight.find_datasets`); ValueError unless there is exactly one."""
    found = [dataset for _, dataset, _ in find_datasets(loader_cfg.get('dataset'), 'dataset')]
    if len(found) != 1:
        raise ValueError(f'a study needs one COCO-format dataset with an ann_file per '
                         f'dataloader, found {len(found)} (ConcatDataset is not supported)')
    return found[0]


def annotation_path(dataset: ConfigDict) -> str:
    """``ann_file`` resolved against ``data_root`` as mmengine's BaseDataset resolves it."""
    return resolve_paths(dataset)[0]


def set_schedule(cfg: Config, max_iters: Optional[int], evaluations: Optional[int]) -> None:
    """Set an ``IterBasedTrainLoop``'s length (schedulers ending at the old length end at the
    new one, their milestones scaled; warm-up kept) and ``evaluations`` validation points. The
    checkpoint hook saves at every validation, keeping the newest only: an interrupted run
    resumes from its last one (:mod:`.interrupted_runs`), and the final one marks the run
    finished. An iteration-based run logs its validations at their iteration
    (``LoggerHook(log_metric_by_epoch=False)``)."""
    loop = cfg.train_cfg
    iter_based = not counts_epochs(loop)
    if max_iters is not None:
        if not iter_based:
            raise ValueError('max_iters needs an IterBasedTrainLoop config; for an epoch-based '
                             'one set train_cfg.max_epochs with cfg_options')
        old = loop.max_iters
        loop.max_iters = max_iters
        schedulers = cfg.get('param_scheduler') or []
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if scheduler.get('end') is not None and scheduler.end >= old:
                scheduler.end = max_iters
            if 'milestones' in scheduler:
                scheduler.milestones = [int(m * max_iters / old) for m in scheduler.milestones]
    length = loop.max_iters if iter_based else loop.max_epochs
    if evaluations is not None:
        if evaluations > length:  # every iteration (epoch) at most: fewer than asked
            raise ValueError(f'evaluations (--evaluations) must be at most the schedule\'s '
                             f'{length} {"iterations" if iter_based else "epochs"}, got '
                             f'{evaluations}')
        loop.val_interval = max(1, length // evaluations)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None:
        checkpoint.interval = loop.get('val_interval',
                                       DEFAULT_VAL_INTERVAL['iter' if iter_based else 'epoch'])
        checkpoint.max_keep_ckpts = 1
        checkpoint.save_last = True
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    if iter_based and 'logger' not in hooks:  # the LoggerHook mmengine adds, made explicit
        hooks['logger'] = ConfigDict(type='LoggerHook')
    if iter_based and hooks['logger'] is not None:
        # each validation logged at its iteration (LoggerHook's default logs step 0 in an
        # iteration-based loop): a record places its evaluations by step
        hooks['logger'].log_metric_by_epoch = False


def final_checkpoint_name(cfg: Config) -> str:
    """File name of the checkpoint a finished run of ``cfg`` saves last."""
    schedule = ValidationSchedule.of_config(cfg.train_cfg)
    return f'{"epoch" if schedule.by_epoch else "iter"}_{schedule.end}.pth'


def evaluation_points(cfg: Config) -> List[int]:
    """The iterations (epochs, for an epoch-based loop) after which a run of ``cfg`` validates,
    as mmengine's train loops decide (:class:`~asl_det.engine.validation_schedule.
    ValidationSchedule`)."""
    return ValidationSchedule.of_config(cfg.train_cfg).points()


def load_base_config(settings: StudySettings) -> Config:
    """The user's config with ``cfg_options`` merged and the schedule set."""
    from asl_det.launch.runtime import load_config
    cfg = load_config(settings.config_file)
    cfg.merge_from_dict(copy.deepcopy(settings.cfg_options))
    head = cfg.model.get('bbox_head')
    if head is None or head.get('loss_cls', {}).get('type') != 'FocalLoss':
        raise ValueError(f'{settings.config_file}: a study needs model.bbox_head.loss_cls of type '
                         f"FocalLoss (the baseline), found {head and head.get('loss_cls')}")
    set_schedule(cfg, settings.max_iters, settings.evaluations)
    return cfg


@dataclass
class ConditionData:
    """The annotation files of one condition (paths and content hashes)."""
    train_ann_file: str
    train_ann_sha256: str
    val_ann_file: str
    val_ann_sha256: str
    dropped_fraction: float = 0.0

    def as_record(self) -> Dict:
        """The fields as a record keeps them: the files named by :func:`repo_relative` (no
        checkout path of this machine when they lie inside it), the hashes as they are."""
        return repo_relative_files(self.__dict__)


def prepare_conditions(settings: StudySettings, cfg: Config, log=print) -> Dict[str, ConditionData]:
    """Write (or reuse) one missing-annotation train file per condition beside the records; the
    annotation files of every condition, hashed."""
    train_ann = annotation_path(annotated_dataset(cfg.train_dataloader))
    val_ann = annotation_path(annotated_dataset(cfg.val_dataloader))
    val_hash = file_sha256(val_ann)
    conditions = {}
    for fraction in settings.missing_fractions:
        name = condition_name(fraction)
        if fraction == 0:
            conditions[name] = ConditionData(train_ann, file_sha256(train_ann), val_ann, val_hash)
            continue
        out_file = osp.join(settings.records_dir, 'annotations',
                            f'{osp.splitext(osp.basename(train_ann))[0]}_{name}.json')
        split = write_missing_annotation_split(train_ann, fraction, seed=settings.data_seed,
                                               out_file=out_file)
        log(f'[study] {name}: {split["dropped_annotations"]} of the train boxes removed '
            f'({split["dropped_fraction"]:.1%}) in {out_file}; evaluation on the complete '
            f'{osp.basename(val_ann)}')
        conditions[name] = ConditionData(osp.abspath(out_file), file_sha256(out_file), val_ann,
                                         val_hash, round(split['dropped_fraction'], 4))
    return conditions


def with_variant_hooks(config_hooks: Sequence[dict], variant_hooks: Sequence[dict]) -> List[dict]:
    """``config_hooks`` with ``variant_hooks`` appended, less each config hook that a variant
    hook's class is or extends (an AdaptiveAsymmetryHook replaces the ProbabilityStatisticsHook
    it subclasses; a ChannelsLastHook stays). Types are resolved in mmdet's HOOKS registry."""
    from mmdet.registry import HOOKS

    def hook_class(hook):
        kind = hook['type']
        found = HOOKS.get(kind) if isinstance(kind, str) else kind
        if found is None:
            raise KeyError(f'custom_hooks: {kind!r} is not a registered hook')
        return found

    replacing = [hook_class(hook) for hook in variant_hooks]
    kept = [hook for hook in config_hooks
            if not any(issubclass(new, hook_class(hook)) for new in replacing)]
    return kept + [copy.deepcopy(hook) for hook in variant_hooks]


def run_config(settings: StudySettings, base: Config, job: Job,
               data: ConditionData) -> Config:
    """The config of ``job``'s (condition, variant): ``base`` with the variant applied."""
    cfg = copy.deepcopy(base)
    spec = variant_config(job.variant, settings.defined_variants)
    head = cfg.model.bbox_head
    head.loss_cls = spec['loss_cls']
    if spec['prior'] is not None:
        head.init_cfg = init_cfg_with_prior(head, head.type, spec['prior'])
    if spec['hooks'] is not None:
        cfg.custom_hooks = with_variant_hooks(cfg.get('custom_hooks', []), spec['hooks'])
    if job.missing_fraction > 0:
        train_dataset = annotated_dataset(cfg.train_dataloader)
        full_ann_file = osp.abspath(annotation_path(train_dataset))
        train_dataset.ann_file = data.train_ann_file
        add_unlabelled_anchor_probe(cfg, full_ann_file)
    return cfg


#: The hook that measures where the dropped boxes' anchors sit, and the module that registers it.
PROBE_HOOK = 'UnlabelledAnchorProbabilityHook'
PROBE_MODULE = 'asl_det.engine.hooks.unlabelled_anchor_probability_hook'


def add_unlabelled_anchor_probe(cfg: Config, full_ann_file: str) -> bool:
    """Add the :class:`~asl_det.engine.hooks.unlabelled_anchor_probability_hook.
    UnlabelledAnchorProbabilityHook` to a missing-annotation run (``full_ann_file``: the train
    labels before any were dropped), where the detector's assigner is one it measures
    (``MaxIoUAssigner``: RetinaNet and its kin); returns whether it was added. It observes only:
    training is bit-identical with and without it."""
    assigner = (cfg.model.get('train_cfg') or {}).get('assigner') or {}
    if assigner.get('type') != 'MaxIoUAssigner':
        return False
    add_custom_import(cfg, PROBE_MODULE)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type=PROBE_HOOK, full_ann_file=full_ann_file)]
    return True


def write_run_configs(settings: StudySettings, base: Config,
                      conditions: Dict[str, ConditionData]) -> Dict[Tuple[str, str], str]:
    """Write one run config per (condition, variant) of the grid; returns their paths."""
    paths = {}
    for job in settings.jobs():
        key = (job.condition, job.variant)
        if key in paths:
            continue
        path = run_config_path(settings, job)
        os.makedirs(osp.dirname(path), exist_ok=True)
        run_config(settings, base, job, conditions[job.condition]).dump(path)
        paths[key] = path
    return paths


def check_train_args(train_args: Sequence[str]) -> List[str]:
    """``train_args`` (options every run passes to ``tools/train.py``, e.g.
    ``['--skip-bad-images']``) as a list; ValueError for one the study sets itself
    (:data:`STUDY_TRAIN_OPTIONS`) or a value that is not a string."""
    if isinstance(train_args, str) or not all(isinstance(arg, str) for arg in train_args):
        raise ValueError(f'train_args must be a list of strings, got {train_args!r}')
    for arg in train_args:
        if arg.split('=', 1)[0] in STUDY_TRAIN_OPTIONS:
            raise ValueError(f'train_args: {arg} is set by the study for each run; allowed are '
                             f'the other options of tools/train.py')
    return list(train_args)


def train_command(settings: StudySettings, job: Job, python: str = 'python',
                  path=lambda path: path, resume_from: Optional[str] = None) -> List[str]:
    """The ``tools/train.py`` command line of ``job`` (with ``settings.train_args``):
    ``python`` the interpreter to name, ``path`` how to write the paths (the tool, the run
    config, the work dir; default: as they are), ``resume_from`` a checkpoint to continue from
    (``--resume``)."""
    resume = ['--resume', path(resume_from)] if resume_from is not None else []
    return [python, path(TRAIN_TOOL), path(run_config_path(settings, job)), '--work-dir',
            path(work_dir(settings, job)), *settings.train_args, *resume, '--cfg-options',
            f'randomness.seed={job.seed}']


def repo_relative(path: str) -> str:
    """``path`` relative to :data:`REPO_ROOT` if it lies inside the checkout, else absolute."""
    return relative_if_inside(path, REPO_ROOT)


def repo_relative_files(fields: Dict) -> Dict:
    """``fields`` with each ``*_file`` value named by :func:`repo_relative`, the rest as is."""
    return {key: repo_relative(value) if key.endswith('_file') else value
            for key, value in fields.items()}


def shell_line(settings: StudySettings, job: Job, python: Optional[str] = None,
               resume_from: Optional[str] = None) -> str:
    """``job``'s command as one shell line, with the thread count for CPU runs and every path
    relative to the repository root (outside the checkout: absolute); ``resume_from`` as in
    :func:`train_command`.

    Without ``python`` the line names ``python`` and no checkout (``OMP_NUM_THREADS=2 python
    tools/train.py work_dirs/...``): the form a record keeps. With an interpreter (e.g.
    ``sys.executable``) it runs as printed from any directory, as a scheduler job does:
    ``cd <repo root> && OMP_NUM_THREADS=2 <python> tools/train.py work_dirs/...``.
    """
    command = shlex.join(train_command(settings, job, python or 'python', repo_relative,
                                       resume_from))
    if settings.device == 'cpu':
        command = f'OMP_NUM_THREADS={settings.threads} {command}'
    return command if python is None else f'cd {shlex.quote(REPO_ROOT)} && {command}'
