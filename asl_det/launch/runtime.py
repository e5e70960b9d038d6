"""Runner set-up shared by ``tools/train.py`` and ``tools/test.py`` (mmdet's tools, as functions).

Each function applies one command-line option to an mmengine ``Config`` the way mmdet 3.3.0's
``tools/train.py`` / ``tools/test.py`` do, plus :func:`setup_cpu_distributed`, which lets the
``pytorch`` launcher (``torchrun``) run on machines without a GPU, :func:`set_resume` (``--resume``
that survives a crash, with :func:`asl_det.checkpoint.find_resumable_checkpoint`) and
:func:`build_runner` (which checks the config first).
"""
import datetime
import logging
import os
import os.path as osp
import warnings
from copy import deepcopy
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmdet.registry import HOOKS, RUNNERS
from mmengine.config import Config, ConfigDict
from mmengine.hooks import LoggerHook
from mmengine.logging import print_log
from mmengine.runner import Runner

from asl_det.checkpoint import find_resumable_checkpoint
from asl_det.config.checks import check_config

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def load_config(path: str) -> Config:
    """``Config.fromfile`` that also takes an installed package's config, ``mmdet::x/y.py``.

    mmengine 0.10.7 resolves ``package::path`` in ``_base_`` only; this resolves it here the same
    way (the package's metafile, else its ``.mim/configs`` tree) without installing anything.
    """
    if '::' in path:
        # mmengine's own resolver for `package::path` (private; it has no public form, and
        # this is the one place the package calls it)
        path, _ = Config._get_cfg_path(path, '')
    return Config.fromfile(path)


def add_common_arguments(parser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``, as both mmdet tools define them,
    and ``--trust-checkpoint`` (see :func:`asl_det.checkpoint.use_safe_checkpoint_loader`)."""
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in '
                        'xxx=yyy format will be merged into config file. If the value to be '
                        'overwritten is a list, it should be like key="[a,b]" or key=a,b. It also '
                        'allows nested list/tuple values, e.g. key="[(a,b),(c,d)]". Note that the '
                        'quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=list(LAUNCHERS), default='none',
                        help='job launcher')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle every checkpoint this run loads (load_from, --resume, the '
                        'test checkpoint) fully, with torch.load(weights_only=False), which can '
                        'run code the file names: only for files you trust. Default: weights '
                        'only, plus the globals mmengine checkpoints hold; others are refused')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args) -> None:
    """Set ``LOCAL_RANK`` from ``--local-rank`` unless the launcher already did."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)


def prepare_config(config_path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                   work_dir: Optional[str] = None) -> Config:
    """The config as mmdet's tools start from it: loaded (``mmdet::`` paths too), ``launcher``
    set, ``--cfg-options`` merged, work dir chosen (:func:`set_work_dir`)."""
    cfg = load_config(config_path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    set_work_dir(cfg, work_dir, config_path)
    return cfg


def set_work_dir(cfg: Config, work_dir: Optional[str], config_path: str) -> None:
    """``cfg.work_dir`` by priority: ``work_dir`` (CLI) > the config's own > ``./work_dirs/<name>``.

    ``<name>`` is the config file name without extension (``mmdet::`` paths included).
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def enable_amp(cfg: Config) -> None:
    """Automatic mixed precision: ``AmpOptimWrapper`` with a dynamic loss scale."""
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def enable_auto_scale_lr(cfg: Config) -> None:
    """Turn on ``cfg.auto_scale_lr`` (lr scaled by total batch size / ``base_batch_size``).

    Raises:
        RuntimeError: the config has no ``auto_scale_lr`` with ``enable`` and
            ``base_batch_size`` (mmdet's behaviour).
    """
    auto_scale_lr = cfg.get('auto_scale_lr')
    if not (auto_scale_lr and 'enable' in auto_scale_lr
            and 'base_batch_size' in auto_scale_lr):
        raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                           '"auto_scale_lr.base_batch_size" in your configuration file.')
    cfg.auto_scale_lr.enable = True


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``resume``: None (no resume), ``'auto'`` (latest checkpoint of the work dir) or a path.

    ``'auto'`` resolves the checkpoint here with
    :func:`~asl_det.checkpoint.find_resumable_checkpoint` (call it after
    :func:`set_work_dir`): a broken ``last_checkpoint`` or a torn ``iter_N.pth`` falls back to the
    newest intact checkpoint, and a work dir without one trains from scratch (as mmengine does
    without ``last_checkpoint``). Without ``cfg.work_dir`` mmengine's own lookup is left to run.
    """
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
        work_dir = cfg.get('work_dir')
        if work_dir is not None and osp.isdir(work_dir):
            cfg.load_from = find_resumable_checkpoint(work_dir)
            if cfg.load_from is None:
                cfg.resume = False
                print_log(f'no intact checkpoint in {work_dir} to resume from: training starts '
                          'from scratch', logger='current', level=logging.WARNING)
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume


def enable_tta(cfg: Config) -> None:
    """Test-time augmentation: wrap the model in ``tta_model`` and test with ``tta_pipeline``.

    Missing entries get mmdet's defaults (``DetTTAModel`` with NMS 0.5; the test pipeline with
    its last transform replaced by a flip / no-flip ``TestTimeAug``), with a warning.
    """
    if 'tta_model' not in cfg:
        warnings.warn('Cannot find ``tta_model`` in config, we will set it as default.')
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    if 'tta_pipeline' not in cfg:
        warnings.warn('Cannot find ``tta_pipeline`` in config, we will set it as default.')
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        cfg.tta_pipeline = deepcopy(test_data_cfg.pipeline)
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[
                [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                [dict(type='PackDetInputs',
                      meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                 'scale_factor', 'flip', 'flip_direction'))],
            ])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def setup_cpu_distributed(cfg: Config) -> bool:
    """Make a distributed launch work without a GPU; a no-op with a GPU or ``launcher='none'``.

    mmdet's configs ask for NCCL and mmengine 0.10.7 calls ``torch.cuda.set_device`` when it
    initialises the ``pytorch`` launcher and wraps the model with ``device_ids=[LOCAL_RANK]``;
    all three fail on CPU. Here: ``cfg.env_cfg.dist_cfg.backend = 'gloo'``; the model wrapper
    gets ``device_ids=None`` (CPU DDP); for the ``pytorch`` launcher the gloo process group is
    initialised from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``), so the runner finds it ready. The ``slurm`` and ``mpi`` launchers get the
    gloo backend and CPU wrapper too, but mmengine's own initialisation of them still needs CUDA.

    Returns:
        True if the config was changed for CPU distributed training.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg.backend = 'gloo'
    wrapper_cfg = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_cfg.device_ids = None
    cfg.model_wrapper_cfg = wrapper_cfg
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        if kwargs.get('timeout') is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                      world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    print_log('no GPU: distributed run on CPU with the gloo backend', logger='current',
              level=logging.INFO)
    return True


def log_test_metrics_once(cfg: Config) -> bool:
    """Have the main process alone write the test metrics JSON (``tools/test.py``).

    Replaces ``cfg.default_hooks.logger`` of type mmengine ``LoggerHook`` by
    :class:`~asl_det.engine.hooks.MainProcessLoggerHook` (same arguments); a subclass the config
    names, or no logger hook, is left alone.

    Returns:
        True if the logger hook was replaced.
    """
    logger = cfg.get('default_hooks', {}).get('logger')
    if not logger:
        return False
    hook_type = logger['type']
    if (hook_type if isinstance(hook_type, type) else HOOKS.get(hook_type)) is not LoggerHook:
        return False
    logger.type = 'MainProcessLoggerHook'
    return True


def build_runner(cfg: Config, phase: str = 'train') -> Runner:
    """``Runner.from_cfg``, or the registered ``cfg.runner_type`` when the config names one.

    First :func:`~asl_det.config.checks.check_config` (``phase`` 'train': the model and
    the train/val data; 'test': the model and the test data), so a bad setting fails before
    anything is built, with its key in the message.
    """
    check_config(cfg, phase)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
