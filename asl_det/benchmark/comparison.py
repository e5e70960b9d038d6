"""The main job: train focal-loss and ASL detectors on the glyph benchmark and compare them."""
import os
import os.path as osp
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from asl_det.benchmark.analysis import (
    load_run,
    metrics_table,
    per_class_table,
    plot_map_curves,
    plot_probabilities,
    profile_inference,
    training_table,
)
from asl_det.benchmark.analysis.tables import format_table
from asl_det.benchmark.glyph_runs import (
    glyph_run_config,
    output_to,
    quiet_worker_pool,
    train_quietly,
)
from asl_det.benchmark.glyphs import generate_glyph_detection
from asl_det.benchmark.progress import ProgressReporter
from asl_det.benchmark.study.missing_annotations import write_missing_annotation_split
from asl_det.validation import check_distinct, check_int, check_number

VARIANTS = ('focal', 'asl', 'asl_adaptive')
#: Seconds between checks of the runs' logs, and at least between two progress lines of a run.
POLL_S, PROGRESS_INTERVAL_S = 5.0, 60.0


@dataclass
class ComparisonSettings:
    """What the comparison trains and on which data.

    ``configs_dir`` holds ``retinanet_glyphs_<variant>.py``; ``max_iters`` / ``val_interval`` are
    training iterations; ``missing_label_fraction`` drops that share of training labels;
    ``workers`` runs are trained at the same time (separate processes).
    """
    configs_dir: str
    work_root: str = 'work_dirs/demo'
    data_root: str = 'data/glyphs'
    variants: Sequence[str] = ('focal', 'asl')
    seeds: Sequence[int] = (0,)
    max_iters: int = 1600
    val_interval: int = 800
    num_train: int = 2000
    num_val: int = 500
    missing_label_fraction: float = 0.0
    device: str = 'cpu'
    profile_inference: bool = True
    workers: int = 1
    cfg_options: Dict = field(default_factory=dict)

    def validate(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f'variants must be a non-empty subset of {VARIANTS}, got '
                             f'{list(self.variants)}')
        for name in ('max_iters', 'val_interval', 'num_train', 'num_val', 'workers'):
            check_int(name, getattr(self, name), 1)
        check_number('missing_label_fraction', self.missing_label_fraction, 0.0, 1.0,
                     high_open=True)
        if self.val_interval > self.max_iters:
            raise ValueError(f'val_interval must be <= max_iters ({self.max_iters}), got '
                             f'{self.val_interval}')
        if not self.seeds:
            raise ValueError('seeds must name at least one seed')
        for seed in self.seeds:
            check_int('seeds', seed, 0)
        check_distinct('seeds', self.seeds)  # two runs of one seed: one work dir
        check_distinct('variants', self.variants)
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


def run_dir(settings: ComparisonSettings, variant: str, seed: int) -> str:
    """Work dir of one run: ``<work_root>/<variant>_seed<seed>``."""
    return osp.join(settings.work_root, f'{variant}_seed{seed}')


def build_config(settings: ComparisonSettings, variant: str, seed: int, data: Dict,
                 train_ann_file: Optional[str] = None) -> Config:
    """The demo config of ``variant`` pointed at the generated data, schedule and seed."""
    return glyph_run_config(
        osp.join(settings.configs_dir, f'retinanet_glyphs_{variant}.py'), data,
        run_dir(settings, variant, seed), seed=seed, max_iters=settings.max_iters,
        val_interval=settings.val_interval, device=settings.device,
        train_ann_file=train_ann_file, cfg_options=settings.cfg_options)


def train_one(settings: ComparisonSettings, variant: str, seed: int, data: Dict,
              train_ann_file: Optional[str], num_threads: int) -> float:
    """Train one run in this (worker) process; returns its wall time in seconds."""
    return train_quietly(build_config(settings, variant, seed, data, train_ann_file),
                         num_threads)


def _train_all(settings: ComparisonSettings, jobs: List, data: Dict,
               train_ann_file: Optional[str], log) -> Dict:
    """Train ``jobs`` [(variant, seed)], ``settings.workers`` at a time; returns wall times.

    On CPU, parallel runs with fewer threads each use the cores better than one run after the
    other (intra-op parallelism of this small model scales poorly). Each run trains in a worker
    process whose console output goes to its work dir (``console.log``), not to this terminal;
    while they train, a progress line per run (read from its mmengine log) comes at most every
    ``PROGRESS_INTERVAL_S`` seconds.
    """
    workers = min(settings.workers, len(jobs))
    threads = max(1, (os.cpu_count() or 1) // workers)
    log(f'[demo] {len(jobs)} runs, {workers} at a time, {threads} thread(s) each; logs in '
        f'{settings.work_root}/<run>/console.log')
    reporter = ProgressReporter(log, min_interval_s=PROGRESS_INTERVAL_S)
    with quiet_worker_pool(workers) as pool:
        futures = {pool.submit(train_one, settings, *job, data, train_ann_file, threads): job
                   for job in jobs}
        pending, wall_times = set(futures), {}
        while pending:
            finished, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in finished:
                wall_times[futures[future]] = future.result()
            reporter.report({f'{variant} seed {seed}': run_dir(settings, variant, seed)
                             for variant, seed in (futures[f] for f in pending)})
        return wall_times


def profile_quietly(cfg: Config, checkpoint: str, score_activation: Optional[str]) -> Dict:
    """:func:`profile_inference` with mmengine's output in ``<work_dir>/inference_profile.log``."""
    with output_to(osp.join(cfg.work_dir, 'inference_profile.log')):
        return profile_inference(cfg, checkpoint, score_activation=score_activation)


def run_comparison(settings: ComparisonSettings,
                   log: Callable[[str], None] = print) -> Dict[str, str]:
    """Generate the data, train every variant for every seed, evaluate and write the report.

    Prints one line per stage and per run, progress lines while the runs train, and the tables;
    mmengine's output goes to each run's work dir. Returns paths of the written ``report``
    (Markdown), ``map_plot`` and ``probability_plot``.
    """
    settings.validate()
    log(f'[demo] data: {settings.num_train} train / {settings.num_val} val images in '
        f'{settings.data_root} (missing labels: {settings.missing_label_fraction:.0%})')
    data = generate_glyph_detection(settings.data_root, num_train=settings.num_train,
                                    num_val=settings.num_val)
    train_ann_file = None
    if settings.missing_label_fraction > 0:
        split = write_missing_annotation_split(data['train_ann'], settings.missing_label_fraction)
        train_ann_file = osp.relpath(split['ann_file'], data['root'])
        log(f"[demo] {split['dropped_annotations']} train boxes left unlabelled "
            f"({split['dropped_fraction']:.1%}); val keeps every label")
    jobs = [(variant, seed) for seed in settings.seeds for variant in settings.variants]
    for variant, seed in jobs:
        log(f'[demo] training {variant} (seed {seed}) for {settings.max_iters} iterations -> '
            f'{run_dir(settings, variant, seed)}')
    wall_times = _train_all(settings, jobs, data, train_ann_file, log)
    runs, profiles = [], {}
    for variant, seed in jobs:
        cfg = build_config(settings, variant, seed, data, train_ann_file)
        run = load_run(cfg.work_dir, name=f'{variant}_seed{seed}')
        run.wall_time_s = wall_times[(variant, seed)]
        runs.append(run)
        log(f'[demo] {run.name} done in {run.wall_time_s / 60:.1f} min: box AP '
            f"{run.metric('bbox_mAP')}, AP50 {run.metric('bbox_mAP_50')}")
    if settings.profile_inference:
        log(f'[demo] inference profile on the val images -> {settings.work_root}/<run>/'
            'inference_profile.log')
        for variant, seed in jobs:
            cfg = build_config(settings, variant, seed, data, train_ann_file)
            checkpoint = osp.join(cfg.work_dir, f'iter_{settings.max_iters}.pth')
            activations = ('sigmoid',) if variant == 'focal' else ('shifted', 'sigmoid')
            for activation in activations:
                profiles[(f'{variant}_seed{seed}', activation)] = profile_quietly(
                    cfg, checkpoint, None if variant == 'focal' else activation)
    return write_report(settings, runs, profiles, log)


def inference_table(profiles: Dict) -> str:
    """Markdown table of :func:`profile_inference` results keyed by (run, activation)."""
    header = ['run', 'score activation', 'candidates / image', 'detections / image',
              'ms / image', 'box AP', 'AP50']
    rows = [[name, activation, f"{p['candidates_per_image']:.0f}",
             f"{p['detections_per_image']:.1f}", f"{1000 * p['seconds_per_image']:.1f}",
             f"{p.get('coco/bbox_mAP', float('nan')):.3f}",
             f"{p.get('coco/bbox_mAP_50', float('nan')):.3f}"]
            for (name, activation), p in profiles.items()]
    return format_table(header, rows, markdown=True)


def write_report(settings: ComparisonSettings, runs: List, profiles: Dict,
                 log: Callable[[str], None] = print) -> Dict[str, str]:
    """Print the tables and write the Markdown report and the two plots under ``work_root``."""
    paths = dict(report=osp.join(settings.work_root, 'report.md'),
                 map_plot=osp.join(settings.work_root, 'map_curves.png'),
                 probability_plot=osp.join(settings.work_root, 'probabilities.png'))
    plot_map_curves(runs, paths['map_plot'])
    plot_probabilities(runs, paths['probability_plot'])
    table = metrics_table(runs, markdown=True) + '\n\n' + training_table(runs, markdown=True)
    sections = ['# Focal loss vs ASL on the glyph benchmark', '',
                f'Data: {settings.num_train} train / {settings.num_val} val images, missing '
                f'labels {settings.missing_label_fraction:.0%}; {settings.max_iters} iterations, '
                f'seeds {list(settings.seeds)}, device {settings.device}.', '',
                '## COCO box metrics (last evaluation), training time, probabilities', '', table]
    if profiles:
        sections += ['', '## Inference: what enters NMS', '', inference_table(profiles)]
    sections += ['', '## Per-class AP', '', per_class_table(runs, markdown=True), '',
                 f'![mAP over training]({osp.basename(paths["map_plot"])})',
                 f'![probabilities]({osp.basename(paths["probability_plot"])})', '']
    with open(paths['report'], 'w') as f:
        f.write('\n'.join(sections))
    log('\n' + table)
    if profiles:
        log('\n' + inference_table(profiles))
    log(f"\n[demo] report: {paths['report']}\n[demo] plots: {paths['map_plot']}, "
        f"{paths['probability_plot']}")
    return paths
