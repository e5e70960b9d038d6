"""Paths as a record or an index names them: no checkout path of one machine where avoidable."""
import os.path as osp


def relative_if_inside(path: str, base: str) -> str:
    """``path`` relative to ``base`` if it lies inside that folder, else absolute."""
    path, base = osp.abspath(path), osp.abspath(base)
    return osp.relpath(path, base) if osp.commonpath([path, base]) == base else path
