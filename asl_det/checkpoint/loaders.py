"""mmengine checkpoint loaders that unpickle through :mod:`asl_det.checkpoint.safe_loading`.

mmengine 0.10.7 loads local and s3 files with ``torch.load``'s default (which refuses its own
checkpoints on torch >= 2.6), and URLs (``http(s)://``, ``torchvision://``, ``open-mmlab://``,
``mmcls://``) with ``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
False: a downloaded ``load_from`` is unpickled without limits. :func:`use_safe_checkpoint_loader`
registers the loaders below for those schemes in mmengine's ``CheckpointLoader``, so
``load_from``, ``--resume``, ``tools/test.py``'s checkpoint and pretrained ``init_cfg`` weights all
load weights-only with the allowlist.

It replaces mmengine's loaders for the whole process, so only a tool calls it, opting in:
``tools/train.py``, ``tools/test.py`` and asl_det's in-process runners. Importing ``asl_det``
does not. ``pavi://`` keeps mmengine's loader (``torch.load``'s default: weights only, no
allowlist).
"""
import io
import os
import os.path as osp
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.runner import CheckpointLoader
from mmengine.runner import checkpoint as mmengine_checkpoint

from .safe_loading import load_checkpoint_file, set_trust_by_default

# mmengine logs ``Loads checkpoint by <name[10:]> backend``: the names keep its ``load_from_``.


def load_from_local(filename: str, map_location=None):
    """A local checkpoint file (mmengine's scheme ``''``, the fallback for any path)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return load_checkpoint_file(filename, map_location)


def load_from_ceph(filename: str, map_location=None, backend: str = 'petrel'):
    """An ``s3://`` / ``petrel://`` checkpoint, read whole through mmengine's file backend."""
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return load_checkpoint_file(buffer, map_location, name=filename)


def download_checkpoint(url: str, model_dir=None, progress: bool = True) -> str:
    """The local copy of ``url`` in torch hub's cache (``<hub dir>/checkpoints``, the folder
    mmengine's loader uses), downloaded first if absent. Returns its path."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    path = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(path):
        torch.hub.download_url_to_file(url, path, progress=progress)
    return path


def load_from_http(filename: str, map_location=None, model_dir=None, progress=os.isatty(0)):
    """An ``http(s)://`` checkpoint; in distributed runs rank 0 downloads first, as in mmengine."""
    rank, world_size = get_dist_info()
    if rank == 0:
        path = download_checkpoint(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = download_checkpoint(filename, model_dir, progress)
    return load_checkpoint_file(path, map_location)


def load_from_torchvision(filename: str, map_location=None):
    """``torchvision://NAME`` (or the older ``modelzoo://NAME``): torchvision's weights URL."""
    name = filename.split('://', 1)[1]
    return load_from_http(mmengine_checkpoint.get_torchvision_models()[name], map_location)


def load_from_openmmlab(filename: str, map_location=None):
    """``open-mmlab://NAME`` / ``openmmlab://NAME``: the URL of mmengine's model list.

    Names that the user's list maps to a file in the mmengine home (not a URL) go to mmengine's
    own loader, which reads them with ``torch.load``'s default (weights-only since torch 2.6).
    """
    name = filename.split('://', 1)[1]
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    url = mmengine_checkpoint.get_external_models()[name]
    if not url.startswith(('http://', 'https://')):
        return mmengine_checkpoint.load_from_openmmlab(filename, map_location)
    return load_from_http(url, map_location)


def load_from_mmcls(filename: str, map_location=None):
    """``mmcls://NAME``: the URL of mmengine's MMClassification list, backbone keys kept."""
    checkpoint = load_from_http(
        mmengine_checkpoint.get_mmcls_models()[filename.split('://', 1)[1]], map_location)
    # mmengine's own conversion of these files (private; its loader, replaced here, calls it)
    return mmengine_checkpoint._process_mmcls_checkpoint(checkpoint)


#: (mmengine's prefixes, loader) for every scheme replaced here.
SAFE_SCHEMES = (
    ('', load_from_local),
    ((r'(\S+\:)?s3://', r'(\S+\:)?petrel://'), load_from_ceph),
    (('http://', 'https://'), load_from_http),
    (('modelzoo://', 'torchvision://'), load_from_torchvision),
    (('open-mmlab://', 'openmmlab://'), load_from_openmmlab),
    ('mmcls://', load_from_mmcls),
)


def use_safe_checkpoint_loader(trust: bool = False) -> None:
    """Make mmengine load checkpoints through :mod:`~asl_det.checkpoint.safe_loading` (idempotent).

    Registers :data:`SAFE_SCHEMES` in mmengine's ``CheckpointLoader`` (``force=True``: they
    replace mmengine's for this process). A tool opts in by calling it; the last call's
    ``trust`` holds.

    Args:
        trust: False (default): weights-only loading with the allowlist; a checkpoint needing
            more is refused with ``UntrustedCheckpointError``. True: every checkpoint this
            process loads is unpickled fully (``weights_only=False``), the explicit opt-in
            (``--trust-checkpoint``) for files the user trusts.
    """
    set_trust_by_default(trust)
    for prefixes, loader in SAFE_SCHEMES:
        CheckpointLoader.register_scheme(prefixes, loader, force=True)
