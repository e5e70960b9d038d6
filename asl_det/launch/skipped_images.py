"""The images a run's pre-flight check left out (``--skip-bad-images``), kept in its work dir.

``tools/train.py`` writes ``<work_dir>/skipped_images.json`` whenever the pre-flight check ran:
``{"images": [{"dataset": <config key>, "ann_file": <the config's annotation file>,
"file_name": <image>}, ...]}``, an empty list when nothing was skipped. A study record quotes
it (:func:`read_skipped_images`), so a table says which runs trained without which images.
"""
import json
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config

from asl_det.atomic_files import write_json_atomic
from asl_det.intake.preflight import find_datasets, resolve_paths

#: File name in the work dir.
SKIPPED_IMAGES = 'skipped_images.json'
#: The dataloaders whose data training reads (what tools/train.py checks).
TRAINING_SPLITS = ('train', 'val')


def _file_names(ann_file: str) -> List[str]:
    with open(ann_file) as f:
        return [image['file_name'] for image in json.load(f)['images']]


def skipped_images(checked: Config, original: Config,
                   splits=TRAINING_SPLITS) -> List[Dict[str, str]]:
    """The images of ``original``'s data sets that ``checked`` (the config returned by
    :func:`asl_det.intake.preflight.preflight_config`) no longer reads, one dict per image and
    data set: ``dataset`` (config key), ``ann_file`` (the original, resolved against
    ``data_root``) and ``file_name``; sorted."""
    found = []
    for split in splits:
        key = f'{split}_dataloader'
        before = list(find_datasets((original.get(key) or {}).get('dataset'), f'{key}.dataset'))
        after = list(find_datasets((checked.get(key) or {}).get('dataset'), f'{key}.dataset'))
        for (where, old, _), (_, new, _) in zip(before, after):
            old_file, new_file = resolve_paths(old)[0], resolve_paths(new)[0]
            if old_file == new_file:
                continue
            kept = set(_file_names(new_file))
            found += [dict(dataset=where, ann_file=old_file, file_name=name)
                      for name in _file_names(old_file) if name not in kept]
    return sorted(found, key=lambda item: (item['dataset'], item['file_name']))


def write_skipped_images(work_dir: str, images: List[Dict[str, str]]) -> str:
    """Write ``images`` (:func:`skipped_images`) to ``<work_dir>/skipped_images.json``."""
    return write_json_atomic(dict(images=images), osp.join(work_dir, SKIPPED_IMAGES), indent=1)


def read_skipped_images(work_dir: str) -> Optional[List[Dict[str, str]]]:
    """The images the run in ``work_dir`` skipped, or None if it left no list (no pre-flight)."""
    path = osp.join(work_dir, SKIPPED_IMAGES)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)['images']
