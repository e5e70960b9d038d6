"""Runner set-up shared by ``tools/train.py`` and ``tools/test.py`` (mmdet's tools, as functions).

Each function applies one command-line option to an mmengine ``Config`` the way mmdet 3.3.0's
``tools/train.py`` / ``tools/test.py`` do, plus :func:`setup_cpu_distributed`, which lets the
``pytorch`` launcher (``torchrun``) run on machines without a GPU, :func:`set_resume` (``--resume``
that survives a crash, with :func:`asl_det.checkpoint.find_resumable_checkpoint`) and
:func:`build_runner` (which checks the config first).

User errors: a bad config, option or data set is reported as one line and a non-zero exit
status, without a traceback (:data:`USER_ERRORS`, :func:`report_user_errors`); the places that
read what the user gave (:func:`prepare_config`, :func:`build_runner`'s checks, the tools'
pre-flight) raise them through :func:`user_input`. Any other exception keeps its traceback.
"""
import argparse
import datetime
import gc
import logging
import os
import os.path as osp
import signal
import sys
import warnings
from contextlib import contextmanager
from copy import deepcopy
from typing import Callable, Iterator, Optional

import torch
import torch.distributed as torch_dist
from mmdet.registry import HOOKS, RUNNERS
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.hooks import LoggerHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from asl_det.checkpoint import (
    NotACheckpointError,
    UntrustedCheckpointError,
    find_resumable_checkpoint,
)
from asl_det.config.checks import check_config
from asl_det.config.custom_imports import add_custom_import

# Registration (``import asl_det`` registers the loss and its two hooks only): the logger hook
# :func:`log_test_metrics_once` names, and the modules the tools' configs name, so that a config
# dumped into a work dir before they left ``import asl_det`` still builds.
from asl_det.engine.hooks import channels_last_hook, main_process_logger_hook  # noqa: F401
from asl_det.engine.optimizers import divergence_guard_optim_wrapper  # noqa: F401
from asl_det.intake.preflight import PreflightError
from asl_det.validation import error_line

from .work_dir_lock import WorkDirBusy, hold_work_dir

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
#: The environment variable in which each launcher gives a process its global rank.
RANK_VARIABLES = dict(pytorch='RANK', slurm='SLURM_PROCID', mpi='OMPI_COMM_WORLD_RANK')


class UserInputError(Exception):
    """A problem the user fixes in the command line, the config or the data, not a bug."""


class ConfigError(UserInputError, ValueError):
    """A config, option or annotation value that cannot be used (the message names it)."""


class MissingFileError(UserInputError, FileNotFoundError):
    """A file or folder that the command line or the config names does not exist."""


#: What ``tools/train.py`` and ``tools/test.py`` report as one line, without a traceback: the
#: errors above, a failed pre-flight check of the data, a checkpoint refused by the safe loader
#: (the message names the opt-in), a file that is no checkpoint and a work dir another run is
#: training in.
USER_ERRORS = (UserInputError, PreflightError, UntrustedCheckpointError, NotACheckpointError,
               WorkDirBusy)


@contextmanager
def user_input(source: str = '') -> Iterator[None]:
    """Raise what goes wrong in the block as a user error: a ``FileNotFoundError`` as
    :class:`MissingFileError`, a ``ValueError``, ``KeyError`` or ``TypeError`` as
    :class:`ConfigError`, their message prefixed with ``source`` (e.g. the config file) unless
    it names it already.

    Wrap only code that reads what the user gave (a config file, options, annotations): there
    these exceptions mean bad input, not a bug. :data:`USER_ERRORS` pass unchanged.
    """
    def prefixed(error):
        return f'{source}: {error}' if source and source not in str(error) else str(error)
    try:
        yield
    except USER_ERRORS:
        raise
    except FileNotFoundError as error:
        raise MissingFileError(prefixed(error)) from error
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(prefixed(error)) from error


def report_user_errors() -> None:
    """Have an uncaught :data:`USER_ERRORS` exception end the process with one line on stderr,
    ``<tool>: error: <type>: <message>`` (the type of the error it stands for), and exit status
    1, instead of a traceback. Other exceptions keep Python's report (``sys.excepthook``)."""
    previous = sys.excepthook
    if getattr(previous, 'reports_user_errors', False):
        return

    def hook(kind, error, traceback):
        if not issubclass(kind, USER_ERRORS):
            previous(kind, error, traceback)
            return
        print(user_error_line(error), file=sys.stderr)

    hook.reports_user_errors = True
    sys.excepthook = hook


def user_error_line(error: BaseException) -> str:
    """The one line a user error is reported with: ``<tool>: error: <type>: <message>``."""
    return error_line(f'{_reported_type(error)}{error}')


def _reported_type(error: BaseException) -> str:
    """``'<type>: '`` of the error a user error stands for: its cause's type, else its builtin
    base (``ConfigError`` -> ``ValueError``); the type of any other error."""
    if not isinstance(error, UserInputError):
        return f'{type(error).__name__}: '
    if isinstance(error.__cause__, Exception):
        return f'{type(error.__cause__).__name__}: '
    base = next(base for base in type(error).__mro__ if not issubclass(base, UserInputError))
    return '' if base is Exception else f'{base.__name__}: '


def launcher_rank(launcher: str) -> int:
    """This process's global rank as its launcher announces it, before ``torch.distributed``
    starts (0 for launcher ``'none'``)."""
    variable = RANK_VARIABLES.get(launcher)
    return int(os.environ.get(variable, 0)) if variable else 0


@contextmanager
def hold_training_work_dir(cfg: Config) -> Iterator[None]:
    """Mark ``cfg.work_dir`` as in use while the block trains
    (:func:`asl_det.launch.work_dir_lock.hold_work_dir`): on the main process (rank 0) and for
    a local work dir; elsewhere a no-op. Meanwhile a SIGTERM (a study stopping its runs, a
    scheduler's kill, ``timeout``) first removes the marker and terminates this process's
    children (the data loader's workers), then ends the process as SIGTERM does.

    Raises:
        WorkDirBusy: another live run holds the work dir.
    """
    work_dir = cfg.get('work_dir')
    if launcher_rank(cfg.get('launcher', 'none')) != 0 or not work_dir or '://' in work_dir:
        yield
        return
    with hold_work_dir(work_dir) as marker, _sigterm_releases(marker):
        yield


@contextmanager
def _sigterm_releases(marker: str) -> Iterator[None]:
    """While the block runs, a SIGTERM removes ``marker`` and stops this process's
    multiprocessing children before the signal's default action ends the process.

    Not an exception raised from the handler: code that catches everything on its way (e.g.
    mmengine formatting the config into a checkpoint) would turn it into another error.
    """
    import multiprocessing

    def release(signum, frame):
        try:
            os.remove(marker)
        except FileNotFoundError:
            pass
        for child in multiprocessing.active_children():
            child.terminate()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    previous = signal.signal(signal.SIGTERM, release)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def load_config(path: str) -> Config:
    """``Config.fromfile`` that also takes an installed package's config, ``mmdet::x/y.py``.

    mmengine 0.10.7 resolves ``package::path`` in ``_base_`` only; this resolves it here the same
    way (the package's metafile, else its ``.mim/configs`` tree) without installing anything.
    The deprecation warning of ``pkg_resources``, which mmengine imports to do so, is silenced.
    """
    with warnings.catch_warnings():
        # mmengine 0.10.7 resolves `package::path` (here and in `_base_`) with pkg_resources,
        # which setuptools >= 81 deprecates on import: nothing a user can act on
        warnings.filterwarnings('ignore', message='pkg_resources is deprecated as an API',
                                category=UserWarning)
        if '::' in path:
            # mmengine's own resolver for `package::path` (private; it has no public form, and
            # this is the one place the package calls it)
            path, _ = Config._get_cfg_path(path, '')
        return Config.fromfile(path)


class KeyValueAction(DictAction):
    """mmengine's ``DictAction`` (``KEY=VALUE ...`` into a dict), whose malformed pairs and keys
    given twice are usage errors (``<tool>: error: argument --cfg-options: ...``), not
    tracebacks or a silent last-one-wins."""

    def __call__(self, parser, namespace, values, option_string=None):
        keys = []
        for value in values or ():
            if '=' not in value:
                raise argparse.ArgumentError(self, f'{value!r} is not KEY=VALUE')
            key = value.partition('=')[0]
            if key in keys:  # the last one would win without a word
                raise argparse.ArgumentError(self, f'{key} is given twice')
            keys.append(key)
        try:
            super().__call__(parser, namespace, values, option_string)
        except (ValueError, AssertionError) as error:  # mmengine asserts balanced brackets
            raise argparse.ArgumentError(
                self, f'cannot parse {" ".join(values)!r}: {str(error) or "unbalanced brackets"}')


def add_common_arguments(parser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``, as both mmdet tools define them,
    and ``--trust-checkpoint`` (see :func:`asl_det.checkpoint.use_safe_checkpoint_loader`)."""
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction,
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


def load_user_config(config_path: str) -> Config:
    """:func:`load_config`, its failures raised as user errors (the original as their cause).

    Raises:
        MissingFileError: the config file (or one it inherits from) does not exist.
        ConfigError: the config file cannot be loaded (an error in its code, named).
    """
    with user_input(config_path):
        try:
            return load_config(config_path)
        # an error in its code; AssertionError: mmengine's for an unknown ``pkg::`` scope
        except (SyntaxError, NameError, ImportError, AttributeError, AssertionError) as error:
            raise ConfigError(f'{config_path}: {error}') from error


def prepare_config(config_path: str, launcher: str = 'none', cfg_options: Optional[dict] = None,
                   work_dir: Optional[str] = None,
                   edit: Optional[Callable[[Config], None]] = None) -> Config:
    """The config as mmdet's tools start from it: loaded (``mmdet::`` paths too), ``launcher``
    set, ``edit`` applied (``tools/train.py --asl``), then ``--cfg-options`` merged (the user's
    explicit keys win, the swapped loss's too), work dir chosen (:func:`set_work_dir`).

    Raises:
        MissingFileError: the config file (or one it inherits from) does not exist.
        ConfigError: the config file cannot be loaded (its error named), or ``cfg_options``
            cannot be merged into it.
    """
    cfg = load_user_config(config_path)
    cfg.launcher = launcher
    if edit is not None:
        edit(cfg)
    if cfg_options is not None:
        with user_input('--cfg-options'):
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
    """Automatic mixed precision (``--amp``): an ``OptimWrapper`` (mmengine's default type)
    becomes ``AmpOptimWrapper`` with a dynamic loss scale, as mmdet's tools/train.py does; an
    ``AmpOptimWrapper`` is left as configured (its ``loss_scale`` kept).

    Raises:
        ConfigError: ``optim_wrapper.type`` is another wrapper (e.g. asl_det's
            ``DivergenceGuardOptimWrapper``): replacing it would drop what it does, and its own
            arguments would reach ``AmpOptimWrapper``.
    """
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    wrapper = getattr(wrapper, '__name__', wrapper)
    kind = wrapper.rsplit('.', 1)[-1]  # 'mmengine.OptimWrapper': a scope named
    if kind == 'AmpOptimWrapper':
        return
    if kind != 'OptimWrapper':
        raise ConfigError(f'--amp: optim_wrapper.type must be OptimWrapper (made '
                          f'AmpOptimWrapper) or AmpOptimWrapper, got {wrapper!r}; set AMP in '
                          'the config itself for another wrapper')
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
    newest intact checkpoint, and a work dir without one starts as the config says (its
    ``load_from``, e.g. pretrained weights to fine-tune, else from scratch; mmdet's tool would
    drop ``load_from``). Without ``cfg.work_dir`` mmengine's own lookup is left to run.

    Raises:
        MissingFileError: ``resume`` is a local path that is no file.
    """
    if resume == 'auto':
        configured = cfg.get('load_from')
        cfg.resume = True
        cfg.load_from = None
        work_dir = cfg.get('work_dir')
        if work_dir is not None and osp.isdir(work_dir):
            cfg.load_from = find_resumable_checkpoint(work_dir)
            if cfg.load_from is None:
                cfg.resume, cfg.load_from = False, configured
                start = f"the config's load_from {configured}" if configured else 'scratch'
                print_log(f'no intact checkpoint in {work_dir} to resume from: training starts '
                          f'from {start}', logger='current', level=logging.WARNING)
    elif resume is not None:
        if '://' not in resume and not osp.isfile(resume):
            raise MissingFileError(f'--resume: no such checkpoint file {resume!r}')
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


def close_process_group(runner: Runner) -> bool:
    """End a distributed run that finished (each rank, after ``runner.train()`` or
    ``runner.test()``); a no-op outside a distributed run.

    mmengine leaves the model wrapper and the process group to interpreter shutdown, where gloo's
    threads, and the pending work the DDP reducer holds, can abort a run that succeeded ('terminate
    called without an active exception', exit -6). Here, while the interpreter is alive: the
    runner's model is unwrapped (the wrapper freed), the ranks meet at a barrier, and the group is
    destroyed, as torch asks of every process.

    Returns:
        True if a process group was destroyed.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    if is_model_wrapper(runner.model):
        runner.model = runner.model.module
    gc.collect()  # the wrapper sits in reference cycles (its hooks)
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    return True


def log_test_metrics_once(cfg: Config) -> bool:
    """Have the main process alone write the test metrics JSON (``tools/test.py``).

    Replaces ``cfg.default_hooks.logger`` of type mmengine ``LoggerHook`` by
    :class:`~asl_det.engine.hooks.main_process_logger_hook.MainProcessLoggerHook` (same
    arguments; its module named in ``custom_imports``); a subclass the config names, or no
    logger hook, is left alone.

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
    add_custom_import(cfg, main_process_logger_hook.__name__)
    return True


def build_runner(cfg: Config, phase: str = 'train') -> Runner:
    """``Runner.from_cfg``, or the registered ``cfg.runner_type`` when the config names one.

    First :func:`~asl_det.config.checks.check_config` (``phase`` 'train': the model and
    the train/val data; 'test': the model and the test data), so a bad setting fails before
    anything is built, with its key in the message. Its errors, and those of building the
    runner and the model from the config (an unknown type, an argument a class does not take),
    are user errors (:class:`ConfigError`, :class:`MissingFileError`).
    """
    with user_input():
        check_config(cfg, phase)
        if 'runner_type' not in cfg:
            return Runner.from_cfg(cfg)
        return RUNNERS.build(cfg)
