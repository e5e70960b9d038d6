"""Which checkpoint ``--resume`` continues from, when a crash may have left broken files behind."""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.logging import print_log

from .safe_loading import UntrustedCheckpointError, load_checkpoint_file

#: File names mmengine's CheckpointHook gives checkpoints by default.
CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def checkpoint_is_intact(path: str) -> bool:
    """Whether ``path`` is a complete checkpoint file.

    ``torch.save`` writes a zip archive whose directory comes last and whose members carry CRCs:
    a truncated or corrupted file fails to open or fails ``testzip`` (a sequential read, no
    unpickling). Files in torch's legacy format are loaded instead, with
    :func:`~asl_det.checkpoint.safe_loading.load_checkpoint_file`; one that it refuses for its
    content counts as intact (loading it later reports the refusal).
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is None
        load_checkpoint_file(path, map_location='cpu')
        return True
    except UntrustedCheckpointError:
        return True
    except Exception:  # any failure to read means "not resumable"
        return False


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` should continue from: the recorded one if intact, else the
    newest intact one of ``work_dir``.

    mmengine reads the path in ``<work_dir>/last_checkpoint`` and loads it blindly; that file is
    written with a plain ``open()`` after each save, so a crash can leave it empty, and it may
    name a file that is gone (moved work dir, deleted checkpoint) or torn (saved without the
    ``'atomic_local'`` backend). Candidates, in order: the recorded path; the file of that name
    in ``work_dir``; ``iter_N.pth`` / ``epoch_N.pth`` of ``work_dir`` (and of the recorded
    path's directory), highest N first. The first intact one (:func:`checkpoint_is_intact`)
    wins; skipped candidates are logged. A recorded remote path (``s3://...``) is returned
    unchecked.

    Returns:
        The path, or None if ``work_dir`` holds no intact checkpoint.
    """
    recorded = None
    record_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record_file):
        with open(record_file) as f:
            recorded = f.read().strip() or None
    if recorded is not None and '://' in recorded:
        return recorded
    candidates = []
    directories = [work_dir]
    if recorded is not None:
        candidates += [recorded, osp.join(work_dir, osp.basename(recorded))]
        directories.append(osp.dirname(recorded) or '.')
    numbered = []
    for directory in dict.fromkeys(directories):
        for name in os.listdir(directory) if osp.isdir(directory) else ():
            match = CHECKPOINT_NAME.match(name)
            if match:
                numbered.append((int(match.group(1)), osp.join(directory, name)))
    candidates += [path for _, path in sorted(numbered, reverse=True)]
    skipped = []
    for path in dict.fromkeys(osp.normpath(p) for p in candidates):
        if osp.isfile(path) and checkpoint_is_intact(path):
            if skipped:
                print_log(f'resuming from {path}; skipped missing or broken checkpoints: '
                          f'{", ".join(skipped)}', logger='current', level=logging.WARNING)
            return path
        skipped.append(path)
    return None
