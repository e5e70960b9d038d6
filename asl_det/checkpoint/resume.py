"""Which checkpoint ``--resume`` continues from, when a crash may have left broken files behind."""
import io
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
#: The first bytes of a zip archive (``torch.save``'s format since torch 1.6).
ZIP_MAGIC = b'PK\x03\x04'
#: What ``zipfile`` raises for a torn or corrupted archive.
BROKEN_ZIP_ERRORS = (zipfile.BadZipFile, EOFError)


def checkpoint_is_intact(path: str) -> bool:
    """Whether ``path`` is a complete checkpoint file.

    ``torch.save`` writes a zip archive whose directory comes last and whose members carry CRCs:
    a truncated or corrupted file has no directory or fails ``testzip`` (a sequential read, no
    unpickling). A file in torch's legacy format (or no format) is read into memory and loaded
    with :func:`~asl_det.checkpoint.safe_loading.load_checkpoint_file`: any failure to load the
    bytes read means a broken file, except a refusal for its content, which counts as intact
    (loading it later reports the refusal).

    Raises:
        OSError: the file cannot be read (permissions, an I/O error), named in the message:
            resuming from an older checkpoint instead would silently lose training.
    """
    try:
        with open(path, 'rb') as f:
            if f.read(len(ZIP_MAGIC)) == ZIP_MAGIC:
                try:
                    with zipfile.ZipFile(f) as archive:
                        return archive.testzip() is None
                except BROKEN_ZIP_ERRORS:
                    return False
            f.seek(0)
            data = f.read()
    except OSError as error:
        if error.filename is None:  # e.g. EIO while reading: name the file
            raise type(error)(error.errno, f'{error.strerror} while reading checkpoint {path}',
                              path) from error
        raise
    try:
        load_checkpoint_file(io.BytesIO(data), map_location='cpu', name=path)
    except UntrustedCheckpointError:
        return True
    except Exception:  # noqa: BLE001 (bytes in memory: whatever unpickling them raises, they
        return False   # are not a checkpoint; reading the file, above, raised its own errors)
    return True


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
