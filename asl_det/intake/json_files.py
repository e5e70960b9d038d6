"""JSON files the intake writes and the content hashes it keys its cache on."""
import hashlib
import json
import os
import os.path as osp
import tempfile


def write_json_atomic(obj, path: str) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file in the same folder and a
    rename, so a reader never sees a half-written file (also with concurrent writers)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp',
                                        dir=folder)
    try:
        with os.fdopen(handle, 'w') as f:
            json.dump(obj, f)
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def file_sha256(path: str, chunk_bytes: int = 1 << 22) -> str:
    """Hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_bytes), b''):
            digest.update(chunk)
    return digest.hexdigest()


def text_sha256(*parts) -> str:
    """Hex sha256 of the parts' ``repr``s, joined: a stable key for small values."""
    return hashlib.sha256('\x00'.join(repr(part) for part in parts).encode()).hexdigest()
