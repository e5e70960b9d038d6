"""JSON files the intake writes (atomically: :func:`asl_det.atomic_files.write_json_atomic`)
and the content hashes it keys its cache on."""
import hashlib

from asl_det.atomic_files import write_json_atomic

__all__ = ['file_sha256', 'text_sha256', 'write_json_atomic']


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
