"""Writing the benchmark to disk as a COCO data set, and reusing it when it is already there.

Output layout (``mmdet.datasets.CocoDataset`` and pycocotools read it)::

    <out>/train/000000.png ...        <out>/annotations/instances_train.json
    <out>/val/000000.png ...          <out>/annotations/instances_val.json
    <out>/manifest.json               generator version, parameters and counts (the cache key)

Image ``index`` of ``split`` is drawn from ``numpy.random.default_rng((seed, split, index))``,
so it does not depend on the order of generation or the number of workers, and the same
arguments give byte-identical files.
"""
import functools
import json
import multiprocessing
import os
import os.path as osp
import re
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from asl_det.intake.json_files import write_json_atomic
from asl_det.validation import check_int

from .classes import GLYPH_CLASSES
from .layout import render_glyph_image
from .sources import load_sources

#: Bumped when the same arguments would give different files, so that caches are rewritten.
GENERATOR_VERSION = '1.0'

SPLITS = ('train', 'val')
_IMAGE_NAME = re.compile(r'\d{6}\.png')


def _check_params(num_train, num_val, img_size, min_objects, max_objects, min_size, max_size,
                  seed) -> Dict:
    """Validated generation parameters, as stored in the manifest."""
    img_size = check_int('img_size', img_size, 32, 4096)
    max_size = check_int('max_size', max_size, 8, img_size)
    min_size = check_int('min_size', min_size, 8, max_size)
    capacity = max(1, (img_size // min_size) ** 2 // 4)
    max_objects = check_int('max_objects', max_objects, 1, min(64, capacity))
    return dict(
        num_train=check_int('num_train', num_train, 1, 1_000_000),
        num_val=check_int('num_val', num_val, 1, 1_000_000),
        img_size=img_size,
        min_objects=check_int('min_objects', min_objects, 1, max_objects),
        max_objects=max_objects,
        min_size=min_size,
        max_size=max_size,
        seed=check_int('seed', seed, 0, 2**63 - 1))


def _coco(split: str, images: List[Dict], annotations: List[Dict]) -> Dict:
    """A COCO instances dict with the ``GLYPH_CLASSES`` categories (ids 1..K)."""
    categories = [dict(id=i + 1, name=name, supercategory=name.split('_')[0])
                  for i, name in enumerate(GLYPH_CLASSES)]
    return dict(info=dict(description=f'asl_det glyph detection benchmark, {split} split',
                          version=GENERATOR_VERSION),
                licenses=[], images=images, annotations=annotations, categories=categories)


def _render_and_save(root: str, split: str, params: Dict,
                     indices: range) -> List[List[Tuple[int, List[float]]]]:
    """Draw the images ``indices`` of ``split``, save them as PNG and return their glyphs."""
    glyphs = []
    for index in indices:
        rng = np.random.default_rng([params['seed'], SPLITS.index(split), index])
        pixels, image_glyphs = render_glyph_image(
            rng, params['img_size'], params['min_objects'], params['max_objects'],
            params['min_size'], params['max_size'])
        Image.fromarray(pixels).save(osp.join(root, split, f'{index:06d}.png'), format='PNG',
                                     compress_level=1)
        glyphs.append(image_glyphs)
    return glyphs


def _write_split(root: str, split: str, params: Dict,
                 num_workers: int) -> Tuple[List[Dict], List[Dict]]:
    """Draw and save the PNGs of one split, in ``num_workers`` processes.

    Returns:
        COCO ``images`` and ``annotations`` (ids from 1, every glyph labelled), identical for
        any ``num_workers``.
    """
    num, size = params[f'num_{split}'], params['img_size']
    os.makedirs(osp.join(root, split), exist_ok=True)
    if num_workers == 1:
        per_image = _render_and_save(root, split, params, range(num))
    else:
        load_sources()  # built once, inherited by forks
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context('fork' if 'fork' in methods else None)
        chunks = [range(start, min(start + 50, num)) for start in range(0, num, 50)]
        with ProcessPoolExecutor(num_workers, mp_context=context) as pool:
            per_image = [glyphs for chunk in pool.map(
                functools.partial(_render_and_save, root, split, params), chunks)
                for glyphs in chunk]
    images, annotations = [], []
    for index, glyphs in enumerate(per_image):
        images.append(dict(id=index + 1, file_name=f'{index:06d}.png', width=size,
                           height=size))
        for label, bbox in glyphs:
            annotations.append(dict(id=len(annotations) + 1, image_id=index + 1,
                                    category_id=label + 1, bbox=bbox, area=bbox[2] * bbox[3],
                                    iscrowd=0))
    return images, annotations


def _paths(root: str) -> Dict[str, str]:
    """Where the files of a data set rooted at ``root`` live (``*_ann_file`` relative to root)."""
    paths = dict(root=root, manifest_file=osp.join(root, 'manifest.json'))
    for split in SPLITS:
        paths[f'{split}_img_dir'] = osp.join(root, split)
        paths[f'{split}_img_prefix'] = f'{split}/'
        paths[f'{split}_ann_file'] = f'annotations/instances_{split}.json'
        paths[f'{split}_ann'] = osp.join(root, paths[f'{split}_ann_file'])
    return paths


def _is_complete(paths: Dict[str, str], manifest: Dict) -> bool:
    """Whether every file that ``manifest`` describes is on disk."""
    for split in SPLITS:
        if not osp.isfile(paths[f'{split}_ann']) or not osp.isdir(paths[f'{split}_img_dir']):
            return False
        names = [n for n in os.listdir(paths[f'{split}_img_dir']) if _IMAGE_NAME.fullmatch(n)]
        if len(names) != manifest['splits'][split]['images']:
            return False
    return True


GENERATOR = 'asl_det.benchmark.glyphs'
#: The names this generator's manifests carry (the first: before the package moved).
GENERATOR_NAMES = ('asl_det.datasets.glyph_detection', GENERATOR)


def _layout_files(paths: Dict[str, str]) -> List[str]:
    """The files of this layout under the root (annotations, ``NNNNNN.png`` images)."""
    found = [paths[f'{split}_ann'] for split in SPLITS if osp.isfile(paths[f'{split}_ann'])]
    for split in SPLITS:
        folder = paths[f'{split}_img_dir']
        if osp.isdir(folder):
            found += [osp.join(folder, n) for n in sorted(os.listdir(folder))
                      if _IMAGE_NAME.fullmatch(n)]
    return found


def _clean(paths: Dict[str, str]) -> None:
    """Delete the files a previous generation wrote (and nothing else), manifest first."""
    if osp.isfile(paths['manifest_file']):
        os.remove(paths['manifest_file'])
    for path in _layout_files(paths):
        os.remove(path)


def generate_glyph_detection(out_dir, num_train: int = 2000, num_val: int = 500,
                             img_size: int = 128, min_objects: int = 1, max_objects: int = 8,
                             min_size: int = 16, max_size: int = 56, seed: int = 0,
                             force: bool = False, num_workers: int = 1) -> Dict:
    """Write (or reuse) the glyph detection benchmark under ``out_dir``, every glyph labelled.

    Args:
        out_dir: directory (str or path-like) for ``train/``, ``val/``, ``annotations/`` and
            ``manifest.json``; created if missing. Only files of this layout are ever deleted,
            and only where this generator's manifest is there (else FileExistsError, unless
            ``force``).
        num_train, num_val: number of images per split, >= 1.
        img_size: side of the square RGB images (px).
        min_objects, max_objects: labelled glyphs per image, uniform in this range.
        min_size, max_size: longer side of a glyph's box (px), log-uniform in this range.
        seed: non-negative int; the same arguments give byte-identical files.
        force: regenerate even if ``manifest.json`` matches the arguments.
        num_workers: processes that draw images (forked where the OS allows); the files do not
            depend on it.

    Returns:
        dict with ``root``, ``manifest_file``, per split ``<split>_img_dir`` (absolute),
        ``<split>_img_prefix`` (e.g. ``'train/'``, mmdet's ``data_prefix``), ``<split>_ann``
        (absolute) and ``<split>_ann_file`` (relative to root, mmdet's ``ann_file``), the
        ``manifest`` dict and ``reused`` (True when the files on disk were kept).

    A train split with missing labels is derived from ``train_ann`` afterwards, by
    :func:`asl_det.benchmark.glyphs.write_missing_annotation_split`.
    """
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f'out_dir must be a str or os.PathLike, got {out_dir!r}')
    if not isinstance(force, bool):
        raise TypeError(f'force must be a bool, got {force!r}')
    num_workers = check_int('num_workers', num_workers, 1, 64)
    params = _check_params(num_train, num_val, img_size, min_objects, max_objects, min_size,
                           max_size, seed)
    paths = _paths(osp.abspath(os.fspath(out_dir)))
    manifest, ours = None, False
    if osp.isfile(paths['manifest_file']):
        try:
            with open(paths['manifest_file']) as f:
                manifest = json.load(f)
            ours = isinstance(manifest, dict) and manifest.get('generator') in GENERATOR_NAMES
        except (OSError, ValueError):  # cut short while written: this layout's own file
            manifest, ours = None, True
    if not force and isinstance(manifest, dict) and ours \
            and manifest.get('version') == GENERATOR_VERSION \
            and manifest.get('params') == params and 'splits' in manifest \
            and _is_complete(paths, manifest):
        return dict(paths, manifest=manifest, reused=True)
    foreign = [] if ours or force else _layout_files(paths)
    if foreign:
        more = f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''
        raise FileExistsError(
            f'out_dir {paths["root"]} holds {foreign[0]}{more} but no manifest.json of this '
            'generator: they are not written over; choose another out_dir, or force=True '
            '(--force) to replace them')
    _clean(paths)
    os.makedirs(osp.join(paths['root'], 'annotations'), exist_ok=True)
    # ours from the first file on (complete: below)
    write_json_atomic(dict(generator=GENERATOR, version=GENERATOR_VERSION, params=params),
                      paths['manifest_file'])
    counts = {}
    for split in SPLITS:
        images, annotations = _write_split(paths['root'], split, params, num_workers)
        with open(paths[f'{split}_ann'], 'w') as f:
            json.dump(_coco(split, images, annotations), f, separators=(',', ':'))
        counts[split] = dict(images=len(images), annotations=len(annotations))
    manifest = dict(generator=GENERATOR, version=GENERATOR_VERSION,
                    params=params, classes=list(GLYPH_CLASSES), splits=counts)
    with open(paths['manifest_file'], 'w') as f:
        json.dump(manifest, f, indent=2)
    return dict(paths, manifest=manifest, reused=False)
