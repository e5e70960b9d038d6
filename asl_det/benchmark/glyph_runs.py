"""One training run on the glyph benchmark: its config, and training it in a quiet worker process.

Shared by the demo comparison (``tools/demo.py``) and the study (``tools/study.py``).
"""
import contextlib
import multiprocessing
import os
import os.path as osp
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, Iterator, Optional

import torch
from mmengine.config import Config

from asl_det.checkpoint import use_safe_checkpoint_loader
from asl_det.checkpoint.atomic_backend import use_atomic_checkpoint_writes  # registers the backend


def glyph_run_config(config_file: str, data: Dict, work_dir: str, seed: int, max_iters: int,
                     val_interval: int, device: str = 'cpu', train_ann_file: Optional[str] = None,
                     cfg_options: Optional[Dict] = None) -> Config:
    """A ``configs/demo`` config pointed at the generated data, a schedule and a seed.

    Args:
        config_file: path of the config (e.g. ``configs/demo/retinanet_glyphs_focal.py``).
        data: what ``generate_glyph_detection`` returned (``root``, ``val_ann``, ...).
        work_dir: the run's mmengine work dir.
        seed: ``randomness.seed``: model initialisation and data order.
        max_iters, val_interval: training iterations, and iterations between evaluations.
        device: 'cpu' or 'cuda'.
        train_ann_file: train annotations relative to the data root (default: the config's, the
            complete labels); validation always uses the complete ``data['val_ann']``.
        cfg_options: dotted overrides applied last, as ``--cfg-options``.
    """
    cfg = Config.fromfile(config_file)
    root = data['root'] + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    if train_ann_file is not None:
        cfg.train_dataloader.dataset.ann_file = train_ann_file
    cfg.val_evaluator.ann_file = data['val_ann']
    cfg.test_evaluator.ann_file = data['val_ann']
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = val_interval
    cfg.param_scheduler[1].end = max_iters
    cfg.param_scheduler[1].milestones = [int(max_iters * 0.8), int(max_iters * 0.95)]
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    # several runners in one process: the visualizer and message hub are named singletons
    run_id = f'{osp.basename(work_dir)}_{time.strftime("%Y%m%d_%H%M%S")}'
    cfg.visualizer.name = f'visualizer_{run_id}'
    cfg.experiment_name = run_id
    if device == 'cuda':
        cfg.env_cfg.dist_cfg = dict(backend='nccl')
    cfg.merge_from_dict(cfg_options or {})
    return cfg


def ignore_third_party_warnings() -> None:
    """Hide, in this process, a dependency's warning that a person running a tool cannot act on.

    mmengine's package lookup (``mmengine.utils.package_utils.is_installed``, which resolves
    ``mmdet::`` configs) imports ``pkg_resources`` and then reloads it with ``importlib.reload``;
    setuptools >= 81 answers each with a ``UserWarning`` that ``pkg_resources`` is deprecated,
    attributed to ``mmengine.utils.package_utils`` and to ``importlib``.
    """
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning,
                            module=r'(mmengine\.utils\.package_utils|importlib)$')


def quiet_worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes for training runs.

    Spawned, so each run has its own mmengine singletons and torch thread pool. Each worker
    installs :func:`ignore_third_party_warnings` before it unpickles its first job.
    """
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn'),
                               initializer=ignore_third_party_warnings)


@contextlib.contextmanager
def output_to(log_file: str) -> Iterator[None]:
    """Send this process's stdout and stderr to ``log_file``, and back on exit.

    Both file descriptors 1 and 2 (what subprocesses and C code write) and ``sys.stdout`` /
    ``sys.stderr`` (what Python code and the loggers created inside write, even where the
    caller had replaced them) go to the log: mmengine's console logs, config dumps and warnings
    then land in a run's own log instead of the terminal. Loggers created inside keep streams
    on descriptors 1 and 2 (not owned, never closed), so they write wherever those point.
    """
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    saved_streams = sys.stdout, sys.stderr
    for stream in saved_streams:
        stream.flush()
    saved_fds = os.dup(1), os.dup(2)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, 'w', buffering=1, closefd=False)
    sys.stderr = open(2, 'w', buffering=1, closefd=False)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved_streams
        for target, saved in zip((1, 2), saved_fds):
            os.dup2(saved, target)
            os.close(saved)


def train_quietly(cfg: Config, num_threads: Optional[int] = None) -> float:
    """Train ``cfg`` in this process with its console output in ``<work_dir>/console.log``.

    As ``tools/train.py`` does, checkpoints load through the weights-only loader and are
    written atomically. Returns the wall time of building and training the runner, in seconds.
    """
    from mmengine.runner import Runner
    use_safe_checkpoint_loader()
    use_atomic_checkpoint_writes(cfg)
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    with output_to(osp.join(cfg.work_dir, 'console.log')):
        start = time.perf_counter()
        Runner.from_cfg(cfg).train()
        return time.perf_counter() - start
