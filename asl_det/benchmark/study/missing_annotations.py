"""Missing-annotation splits: a COCO train file with a share of its boxes removed.

The protocol of the missing-annotation literature (BRL, Co-mining, SparseDet): instances are
dropped at random within each image, the objects stay in the pixels, and evaluation uses the
complete val set. Only the annotation json changes; the images are shared with the clean split.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from asl_det.atomic_files import write_json_atomic
from asl_det.validation import check_number

#: Bumped when the drop rule changes, so a cached split is rewritten.
SPLIT_VERSION = 1


def drop_annotations(annotations: List[Dict], fraction: float, seed: int) -> List[Dict]:
    """Remove about ``fraction`` of the boxes of every image; returns the kept ones (copies).

    Image ``i`` with ``n`` boxes loses ``floor(fraction * n + u)`` of them, ``u ~ U[0, 1)``,
    chosen uniformly among its boxes, so each image loses ``fraction * n`` boxes on average and
    the total is ``fraction`` of all boxes up to rounding. The draw depends only on ``seed`` and
    the image id, not on the order of the file. Kept annotations keep their ids.
    """
    check_number('fraction', fraction, 0.0, 1.0, high_open=True)
    by_image: Dict[int, List[Dict]] = {}
    for ann in annotations:
        by_image.setdefault(ann['image_id'], []).append(ann)
    dropped = set()
    for image_id, anns in by_image.items():
        anns.sort(key=lambda ann: ann['id'])
        rng = np.random.default_rng([seed, image_id])
        count = min(len(anns), math.floor(fraction * len(anns) + rng.random()))
        order = rng.permutation(len(anns))
        dropped.update(anns[i]['id'] for i in order[:count])
    return [dict(ann) for ann in annotations if ann['id'] not in dropped]


def missing_annotation_file(ann_file: str, fraction: float) -> str:
    """Path of the split derived from ``ann_file``: ``<stem>_missing<percent>.json`` beside it."""
    stem, ext = osp.splitext(ann_file)
    return f'{stem}_missing{round(100 * fraction):02d}{ext}'


def write_missing_annotation_split(ann_file: str, fraction: float, seed: int = 0,
                                   out_file: Optional[str] = None) -> Dict:
    """Write (or reuse) the missing-annotation version of the COCO file ``ann_file``.

    Args:
        ann_file: a COCO annotation json (the clean train split).
        fraction: share of boxes to remove, in [0, 1).
        seed: the draw; the same (file, fraction, seed) always removes the same boxes.
        out_file: where to write it (default :func:`missing_annotation_file` beside
            ``ann_file``).

    Returns:
        dict with ``ann_file`` (the written path), ``fraction`` (requested), ``seed``,
        ``annotations`` (kept), ``dropped_annotations`` and ``dropped_fraction`` (realised).
    """
    check_number('fraction', fraction, 0.0, 1.0, high_open=True)
    out_file = out_file or missing_annotation_file(ann_file, fraction)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(ann_file) as f:
        coco = json.load(f)
    key = dict(version=SPLIT_VERSION, source=osp.basename(ann_file), fraction=fraction, seed=seed,
               source_annotations=len(coco['annotations']))
    kept = drop_annotations(coco['annotations'], fraction, seed)
    if osp.isfile(out_file):
        with open(out_file) as f:
            cached = json.load(f)
        # reused only where it is what this source gives (a corrected json of as many boxes
        # has the same key)
        if cached.get('info', {}).get('missing_annotations') == key \
                and cached.get('annotations') == kept \
                and all(cached.get(k) == v for k, v in coco.items() if k not in ('annotations',
                                                                                  'info')):
            return _summary(out_file, key, cached)
    coco['annotations'] = kept
    coco.setdefault('info', {})
    coco['info'] = dict(coco['info'], missing_annotations=key)
    write_json_atomic(coco, out_file, separators=(',', ':'))
    return _summary(out_file, key, coco)


def _summary(out_file: str, key: Dict, coco: Dict) -> Dict:
    total = key['source_annotations']
    kept = len(coco['annotations'])
    return dict(ann_file=out_file, fraction=key['fraction'], seed=key['seed'], annotations=kept,
                dropped_annotations=total - kept,
                dropped_fraction=(total - kept) / total if total else 0.0)
