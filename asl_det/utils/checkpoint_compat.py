"""Load mmengine checkpoints on torch >= 2.6, whose ``torch.load`` defaults to weights_only=True.

mmengine 0.10.7 checkpoints hold its ``HistoryBuffer``, numpy arrays and the config, which the
weights-only unpickler refuses (``Unsupported global: ... HistoryBuffer``). asl_det re-registers
mmengine's loaders for local files and file backends with ``weights_only=False``: these are the
checkpoints a user trains and resumes from, so they are trusted like any pickle they wrote.
Importing ``asl_det`` installs it; no environment variable is needed.
"""
import io
import os.path as osp

import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import CheckpointLoader


def load_from_local(filename, map_location=None):
    """mmengine's local-file loader, with ``weights_only=False``."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_from_ceph(filename, map_location=None, backend='petrel'):
    """mmengine's s3/petrel loader, with ``weights_only=False``."""
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return torch.load(buffer, map_location=map_location, weights_only=False)


def register_trusted_checkpoint_loaders():
    """Override mmengine's local and s3/petrel checkpoint loaders (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(
        prefixes=[r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], loader=load_from_ceph, force=True)
