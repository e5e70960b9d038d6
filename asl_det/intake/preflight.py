"""Pre-flight check of a config's COCO-format data before training: images that mmcv's loader
cannot decode, annotations mmdet would reject or drop silently, near-duplicate boxes.

:func:`preflight_config` checks every data set of a config and returns the config (a copy that
points to filtered annotation files when bad images are skipped); :func:`preflight_coco` checks
one annotation file and its image folder. Results are cached (:mod:`.preflight_cache`): a repeat
call hashes the annotation file and stats the images, nothing else.
"""
import copy
import json
import os.path as osp
from dataclasses import asdict
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.fileio import join_path
from mmengine.utils import is_abs

from asl_det.validation import check_int

from . import image_decoding, preflight_cache
from .coco_checks import DatasetReport, check_coco, check_images, name_some
from .json_files import file_sha256, text_sha256, write_json_atomic

SPLITS = ('train', 'val', 'test')


class PreflightError(ValueError):
    """A data set cannot be trained or evaluated on as it is; the message names the files."""


def preflight_coco(ann_file: str, img_prefix: str, name: str = 'dataset',
                   backend: str = 'cv2', color_type: str = 'color',
                   classes: Optional[Sequence[str]] = None, decode: bool = True, workers: int = 0,
                   cache_dir: Optional[str] = None) -> DatasetReport:
    """Check one COCO json (``ann_file``) whose ``file_name``s are relative to ``img_prefix``.

    Images are decoded with ``mmcv.imfrombytes(flag=color_type, backend=backend)`` as the
    pipeline's ``LoadImageFromFile`` would (``decode=False``: annotations only), in ``workers``
    processes (0: one per CPU). ``classes``: the config's class names, or None. Findings go into
    the returned report; nothing is raised for them.
    """
    check_int('workers', workers, 0)  # also where every image is known to the cache
    cache_dir = cache_dir or preflight_cache.default_cache_dir()
    report = DatasetReport(name=name, ann_file=ann_file, img_prefix=img_prefix)
    try:
        ann_sha = file_sha256(ann_file)
    except OSError as error:
        report.errors.append(f'annotation file {ann_file} cannot be read: {error}')
        return report
    root = osp.abspath(img_prefix)
    decoder = [backend, color_type] if decode else None
    key = text_sha256(preflight_cache.CACHE_VERSION, ann_sha, root, decoder,
                      None if classes is None else list(classes))[:32]
    report_file = preflight_cache.record_path(cache_dir, 'reports', key)
    cached = cached_report(report_file, root, name, ann_file)
    if cached is not None:
        return cached
    with preflight_cache.locked(cache_dir, key):
        cached = cached_report(report_file, root, name, ann_file)  # another rank's result
        if cached is not None:
            return cached
        try:
            with open(ann_file) as f:
                coco = json.load(f)
        except ValueError as error:
            report.errors.append(f'{ann_file} is not valid JSON: {error}')
            coco = None
        file_names = []
        if isinstance(coco, dict):
            check_coco(coco, report, classes=classes)
            if not report.errors:
                file_names = [image['file_name'] for image in coco['images']]
        elif coco is not None:
            report.errors.append(f'{ann_file}: a COCO json is an object, got {type(coco)}')
        stats = preflight_cache.stat_files(root, file_names)
        if decode and file_names:
            decoded = decode_changed(root, file_names, stats, decoder, workers, cache_dir)
            check_images(coco['images'], decoded, report)
        preflight_cache.save_record(report_file, dict(
            report=asdict(report), file_names=file_names,
            fingerprint=preflight_cache.fingerprint(file_names, stats), ann_sha256=ann_sha))
    return report


def cached_report(report_file: str, root: str, name: str, ann_file: str
                  ) -> Optional[DatasetReport]:
    """The cached report if every image file is as it was when it was made, else None."""
    record = preflight_cache.load_record(report_file)
    if record is None:
        return None
    file_names = record['file_names']
    stats = preflight_cache.stat_files(root, file_names)
    if preflight_cache.fingerprint(file_names, stats) != record['fingerprint']:
        return None
    return DatasetReport(**dict(record['report'], name=name, ann_file=ann_file, cached=True))


def decode_changed(root: str, file_names: List[str], stats: list, decoder: list, workers: int,
                   cache_dir: str) -> Dict[str, image_decoding.Decoded]:
    """file_name -> decode result; images whose stat (:data:`~.preflight_cache.FileStat`) the
    image cache knows are not decoded again. Missing files are reported without decoding."""
    cache_file = preflight_cache.record_path(cache_dir, 'images', text_sha256(root, decoder)[:32])
    known = (preflight_cache.load_record(cache_file) or {}).get('images', {})
    decoded, todo = {}, []
    for file_name, stat in zip(file_names, stats):
        entry = known.get(file_name)
        if stat is None:
            decoded[file_name] = (0, 0, f'missing: {osp.join(root, file_name)} does not exist')
        elif entry is not None and entry[:len(stat)] == list(stat):
            decoded[file_name] = tuple(entry[len(stat):])
        else:
            todo.append((file_name, stat))
    results = image_decoding.decode_images([osp.join(root, f) for f, _ in todo], *decoder,
                                           workers=workers)
    for (file_name, stat), result in zip(todo, results):
        decoded[file_name] = result
        known[file_name] = list(stat) + list(result)
    if todo:
        # re-read right before writing: another data set may have added to it meanwhile
        latest = (preflight_cache.load_record(cache_file) or {}).get('images', {})
        preflight_cache.save_record(cache_file, dict(images=dict(latest, **known)))
    return decoded


def filter_coco(ann_file: str, skip_file_names: Sequence[str], cache_dir: Optional[str] = None
                ) -> str:
    """Path of a copy of ``ann_file`` without the images named in ``skip_file_names`` and their
    annotations, written once into ``<cache_dir>/filtered/`` (``ann_file`` is not changed)."""
    cache_dir = cache_dir or preflight_cache.default_cache_dir()
    key = text_sha256(file_sha256(ann_file), sorted(skip_file_names))[:20]
    path = osp.join(cache_dir, 'filtered', f'{key}-{osp.basename(ann_file)}')
    if osp.isfile(path):
        return path
    with open(ann_file) as f:
        coco = json.load(f)
    skip = set(skip_file_names)
    dropped = {image['id'] for image in coco['images'] if image['file_name'] in skip}
    coco['images'] = [image for image in coco['images'] if image['id'] not in dropped]
    coco['annotations'] = [ann for ann in coco.get('annotations', [])
                           if ann['image_id'] not in dropped]
    write_json_atomic(coco, path)
    return path


def find_datasets(dataset: Optional[dict], where: str, pipelines: Tuple = ()
                  ) -> Iterator[Tuple[str, dict, Tuple]]:
    """(config key, innermost dataset config, pipelines from inside out) for every dataset with
    an ``ann_file``, through wrappers (``dataset``) and ``ConcatDataset`` (``datasets``)."""
    if not isinstance(dataset, dict):
        return
    pipelines = (dataset.get('pipeline'), ) + pipelines
    if isinstance(dataset.get('datasets'), (list, tuple)):
        for i, inner in enumerate(dataset['datasets']):
            yield from find_datasets(inner, f'{where}.datasets[{i}]', pipelines)
    elif isinstance(dataset.get('dataset'), dict):
        yield from find_datasets(dataset['dataset'], f'{where}.dataset', pipelines)
    elif dataset.get('ann_file'):
        yield where, dataset, pipelines


def resolve_paths(dataset: dict) -> Tuple[str, str]:
    """(ann_file, image prefix) joined with ``data_root`` as mmengine's ``BaseDataset`` does."""
    data_root = dataset.get('data_root') or ''
    ann_file = dataset['ann_file']
    if not is_abs(ann_file) and data_root:
        ann_file = join_path(data_root, ann_file)
    prefix = (dataset.get('data_prefix') or {}).get('img', '')
    if not is_abs(prefix) and data_root:
        prefix = join_path(data_root, prefix)
    return ann_file, prefix


def image_loader(pipelines: Tuple) -> Tuple[str, str]:
    """(imdecode_backend, color_type) of the first ``LoadImageFromFile`` in the pipelines,
    innermost dataset first; ('cv2', 'color'), the transform's defaults, without one."""
    for pipeline in pipelines:
        for transform in pipeline or []:
            kind = transform.get('type') if isinstance(transform, dict) else None
            kind = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
            if kind.split('.')[-1] == 'LoadImageFromFile':
                return (transform.get('imdecode_backend', 'cv2'),
                        transform.get('color_type', 'color'))
    return 'cv2', 'color'


def dataset_classes(dataset: dict) -> Optional[List[str]]:
    """The class names the dataset will use: ``metainfo.classes``, else its class's default
    (e.g. COCO's 80 for ``CocoDataset``); None if unknown. A string is read as mmengine's
    ``BaseDataset`` reads it: a file of class names, one per line (``list_from_file``), else
    the one name."""
    metainfo = dataset.get('metainfo')
    if isinstance(metainfo, dict) and metainfo.get('classes') is not None:
        classes = metainfo['classes']
        if isinstance(classes, str):
            from mmengine.fileio import list_from_file
            try:
                return list_from_file(classes)
            except (TypeError, FileNotFoundError):
                return [classes]
        return list(classes)
    classes = getattr(dataset_class(dataset), 'METAINFO', {}).get('classes')
    return None if classes is None else list(classes)


def dataset_class(dataset: dict) -> Optional[type]:
    """The class a dataset config builds: its ``type``, a class or a name in mmdet's
    ``DATASETS``; None where the name is not registered (the Runner says so when it builds)."""
    kind = dataset.get('type')
    if not isinstance(kind, str):
        return kind
    from mmdet.registry import DATASETS
    try:
        return DATASETS.get(kind)
    except RuntimeError:  # mmengine: 'Failed to get <type>'
        return None


def preflight_config(cfg: Config, skip_bad_images: bool = False, workers: int = 0,
                     cache_dir: Optional[str] = None, log: Callable[[str], None] = print,
                     splits: Sequence[str] = SPLITS) -> Config:
    """Check every COCO-json data set of ``cfg``'s dataloaders of ``splits`` (train, val, test)
    and their evaluators' ``ann_file``s; log one line per data set and the problems found.
    A missing annotation file is a FileNotFoundError naming its config key.

    Returns ``cfg`` itself when nothing is skipped; with ``skip_bad_images`` and bad images, a
    copy whose dataset and evaluator ``ann_file``s point to filtered copies in the cache.

    Raises:
        PreflightError: bad images (unless ``skip_bad_images``), unreadable or malformed
            json, annotations naming unknown image or category ids, duplicate ids, config
            classes missing from the json. The message names the files.
    """
    checked: Dict[tuple, DatasetReport] = {}
    replaced: Dict[str, str] = {}  # absolute ann_file -> filtered copy
    reports, new_cfg = [], copy.deepcopy(cfg)
    for split in splits:
        loader = new_cfg.get(f'{split}_dataloader')
        skipped_names = set()
        seen_ann_files = set()
        for where, dataset, pipelines in find_datasets(
                (loader or {}).get('dataset'), f'{split}_dataloader.dataset'):
            ann_file, prefix = resolve_paths(dataset)
            if not ann_file.endswith('.json') or '://' in ann_file + prefix:
                log(f'preflight: {where}: {ann_file} is not a local COCO json: not checked')
                continue
            if not osp.isfile(ann_file):  # named by its config key, as the config check does
                raise FileNotFoundError(f'{where}.ann_file: {ann_file} does not exist')
            backend, color_type = image_loader(pipelines)
            classes = dataset_classes(dataset)
            key = (osp.abspath(ann_file), osp.abspath(prefix), backend, color_type,
                   None if classes is None else tuple(classes))
            if key not in checked:
                checked[key] = preflight_coco(ann_file, prefix, where, backend, color_type,
                                              classes, workers=workers, cache_dir=cache_dir)
                reports.append(checked[key])
            report = checked[key]
            seen_ann_files.add(osp.abspath(ann_file))
            if skip_bad_images and report.bad_images and not report.errors:
                names = [file_name for file_name, _ in report.bad_images]
                skipped_names.update(names)
                dataset['ann_file'] = filter_coco(ann_file, names, cache_dir)
                replaced[osp.abspath(ann_file)] = dataset['ann_file']
        evaluators = new_cfg.get(f'{split}_evaluator') if split != 'train' else None
        for i, metric in enumerate(evaluators if isinstance(evaluators, list)
                                   else [evaluators]):
            ann_file = metric.get('ann_file') if isinstance(metric, dict) else None
            if not ann_file:
                continue
            path = osp.abspath(ann_file)
            if path in replaced:
                metric['ann_file'] = replaced[path]
            elif path not in seen_ann_files and ann_file.endswith('.json'):
                report = preflight_coco(ann_file, '', f'{split}_evaluator', decode=False,
                                        cache_dir=cache_dir)
                reports.append(report)
                if skipped_names and not report.errors:
                    metric['ann_file'] = filter_coco(ann_file, sorted(skipped_names), cache_dir)
    for report in reports:
        log(f'preflight: {report.summary()}')
        for line in report.details():
            log(line)
    raise_for(reports, skip_bad_images)
    if replaced:
        log(f'preflight: bad images skipped; training reads filtered copies: '
            f'{name_some(sorted(set(replaced.values())))}')
        return new_cfg
    return cfg


def raise_for(reports: List[DatasetReport], skip_bad_images: bool) -> None:
    """PreflightError naming the problems that stop training, if any. The message suggests
    ``--skip-bad-images`` only where some problem is bad images (those it skips), and says
    whether other problems stay."""
    problems, bad_images, other_problems = [], False, False
    for report in reports:
        problems += [f'{report.name}: {error}' for error in report.errors]
        other_problems = other_problems or bool(report.errors)
        if report.bad_images and not skip_bad_images:
            bad_images = True
            problems.append(
                f'{report.name}: {len(report.bad_images)} images under {report.img_prefix} '
                'cannot be used: ' + name_some([f'{f} ({why})' for f, why in report.bad_images]))
    if problems:
        hint = ''
        if bad_images:
            hint = ('\nTo train without the images that cannot be used, pass --skip-bad-images '
                    '(skip_bad_images=True)' + ('; it does not skip the other problems: fix '
                                                'them in the data.' if other_problems else '.'))
        raise PreflightError('pre-flight check failed:\n' + '\n'.join(problems) + hint)
