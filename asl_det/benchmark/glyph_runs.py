"""One training run on the glyph benchmark: its config, and training it in a quiet worker process.

Shared by the demo comparison (``tools/demo.py``) and the study (``tools/study.py``).
"""
import multiprocessing
import os
import os.path as osp
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, Optional

import torch
from mmengine.config import Config

from asl_det.checkpoint import use_atomic_checkpoint_writes, use_safe_checkpoint_loader


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


def quiet_worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes for training runs.

    Spawned, so each run has its own mmengine singletons and torch thread pool. Each worker
    silences the one warning that importing mmengine prints (``pkg_resources is deprecated``)
    before it unpickles its first job, so the parent's terminal shows only the caller's lines.
    """
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn'),
                               initializer=warnings.filterwarnings,
                               initargs=('ignore', 'pkg_resources is deprecated'))


def redirect_output(log_file: str) -> None:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``log_file``.

    For worker processes: mmengine's console logs and config dumps then go to the run's own
    log instead of interleaving on the terminal of the parent.
    """
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def train_quietly(cfg: Config, num_threads: Optional[int] = None) -> float:
    """Train ``cfg`` in this process with its console output in ``<work_dir>/console.log``.

    As ``tools/train.py`` does, checkpoints load through the weights-only loader and are
    written atomically. Returns the wall time of building and training the runner, in seconds.
    """
    from mmengine.runner import Runner
    use_safe_checkpoint_loader()
    use_atomic_checkpoint_writes(cfg)
    redirect_output(osp.join(cfg.work_dir, 'console.log'))
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    start = time.perf_counter()
    Runner.from_cfg(cfg).train()
    return time.perf_counter() - start
