"""An opt-in mmengine file backend, ``'atomic_local'``, whose writes never leave a torn file.

mmengine's ``LocalBackend.put`` writes a checkpoint straight into its final path: a process
killed mid-write leaves a truncated ``iter_N.pth`` that ``--resume`` may pick up. Here every put
goes to a temporary file in the same directory, is flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX; :func:`asl_det.atomic_files.write_atomic`), so readers see
the old file or the complete new one.

Importing this module registers the backend under its own name; mmengine's ``'local'`` backend
and every other path stay as they are. A checkpoint hook uses it when pointed at it,
``default_hooks.checkpoint.backend_args = dict(backend='atomic_local')``:
:func:`use_atomic_checkpoint_writes` sets that for ``tools/train.py`` (and asl_det's in-process
runners) unless the config chose a backend itself.
"""
from pathlib import Path
from typing import Union

from mmengine.config import Config, ConfigDict
from mmengine.fileio import LocalBackend, register_backend

from asl_det.atomic_files import write_atomic
from asl_det.config.custom_imports import add_custom_import

#: The name configs give in ``backend_args`` (``dict(backend=ATOMIC_LOCAL_BACKEND)``).
ATOMIC_LOCAL_BACKEND = 'atomic_local'


@register_backend(ATOMIC_LOCAL_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` and ``put_text`` are atomic."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomic(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_atomic(obj, filepath, encoding)


def use_atomic_checkpoint_writes(cfg: Config) -> bool:
    """Point the config's checkpoint hook at the ``'atomic_local'`` backend.

    Sets ``cfg.default_hooks.checkpoint.backend_args = dict(backend='atomic_local')`` and names
    this module in ``cfg.custom_imports``. Left
    alone: a config without a checkpoint hook, a hook that names its own ``backend_args`` or
    ``file_client_args`` (so ``--cfg-options default_hooks.checkpoint.backend_args.backend=local``
    opts out), and checkpoints that go to remote storage (an ``out_dir`` or ``work_dir`` with
    ``://``). ``last_checkpoint`` is still written by mmengine with ``open()``; ``--resume``
    copes with a broken one (:func:`asl_det.checkpoint.find_resumable_checkpoint`).

    Returns:
        True if the config was changed.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not hook or hook.get('backend_args') or hook.get('file_client_args'):
        return False
    target = hook.get('out_dir') or cfg.get('work_dir') or ''
    if '://' in str(target):
        return False
    hook['backend_args'] = ConfigDict(backend=ATOMIC_LOCAL_BACKEND)
    add_custom_import(cfg, __name__)  # registers the backend where the dumped config is run
    return True
