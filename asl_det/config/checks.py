"""Fail before training starts, naming the config key, on the mistakes users make with ASL configs.

:func:`check_config` runs in :func:`asl_det.launch.runtime.build_runner` (so ``tools/train.py``
runs it; a test run should pass ``phase='test'``). It checks

- every ``AsymmetricLoss`` classifier loss (``loss_cls``, TOOD's ``initial_loss_cls``): its
  arguments (by building it), an explicit ``use_sigmoid=True`` (mmdet heads read it from the
  config dict; without it they silently grow a background channel), and a head it can serve
  (not VFNet: ``asl_swap.REFUSALS``); it warns when the head scores detections itself, so that
  ``score_activation='shifted'`` has no effect (``asl_swap.score_activation_override``);
- ``model.bbox_head.num_classes`` against the class list of the phase's data set (training's;
  the test set's for ``phase='test'``);
- the local data of the dataloaders a phase uses: ``ann_file`` and image directory of every
  dataset (wrappers included), the evaluators' ``ann_file``, and for COCO-style data sets the
  annotation file's content (:func:`check_coco_annotations`: one read of the JSON).

Errors are ``ValueError`` (bad value) or ``FileNotFoundError`` (missing path) whose message
starts with the dotted key, e.g. ``model.bbox_head.loss_cls.use_sigmoid: ...``.
"""
import json
import os.path as osp
import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

from asl_det.config.asl_swap import (
    iter_classifier_losses,
    refusal_reason,
    score_activation_override,
    type_name,
)
from asl_det.config.classifier_prior import classifier_prior, layer_paths
from asl_det.intake.box_rule import malformed_bbox
from asl_det.intake.preflight import dataset_class, dataset_classes
from asl_det.models.losses import AsymmetricLoss
from asl_det.validation import check_number

PHASES = ('train', 'test')
#: Dataloaders and evaluators each phase uses (training validates too).
PHASE_KEYS = {'train': (('train_dataloader', None), ('val_dataloader', 'val_evaluator')),
              'test': (('test_dataloader', 'test_evaluator'),)}
#: ``data_prefix`` keys that name the image directory (mmdet: ``img``; mmengine: ``img_path``).
IMAGE_PREFIX_KEYS = ('img', 'img_path')
#: Offending entries quoted in an error message.
MAX_QUOTED = 3


def check_config(cfg, phase: str = 'train') -> None:
    """Check the model and the data a ``phase`` ('train' or 'test') of ``cfg`` will use.

    Raises:
        ValueError: a bad model or data setting, or bad annotations (message starts with the key).
        FileNotFoundError: a missing annotation file or image directory (message starts with
            the key).
    """
    if phase not in PHASES:
        raise ValueError(f'phase must be one of {PHASES}, got {phase!r}')
    if phase == 'train':
        check_schedule(cfg)
    check_model(cfg, phase)
    check_data(cfg, phase)


def check_schedule(cfg) -> None:
    """``train_cfg.max_iters`` / ``max_epochs``, where given, are numbers >= 1 (mmengine's
    loops take ``int()`` of them; a schedule of 0 trains nothing and saves no checkpoint, without
    a word from mmengine)."""
    loop = cfg.get('train_cfg')
    if not isinstance(loop, dict):
        return
    for key in ('max_iters', 'max_epochs'):
        if key in loop:
            try:
                check_number(f'train_cfg.{key}', loop[key], 1)
            except TypeError as error:
                raise ValueError(str(error)) from None


# ---------------------------------------------------------------------------------- model

def check_model(cfg, phase: str = 'train') -> None:
    """Check every ``AsymmetricLoss`` under ``cfg.model`` and the head's number of classes
    against the data set of ``phase`` (training's, or the test set's for ``'test'``).

    Warns (``UserWarning``) where a head's own scoring makes ``score_activation='shifted'``
    a no-op.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    for path, node, key, owner in iter_classifier_losses(model):
        loss_cfg = node[key]
        if type_name(loss_cfg.get('type')) != 'AsymmetricLoss':
            continue
        reason = refusal_reason(owner, loss_cfg)
        if reason is not None:
            raise ValueError(f'{path}: AsymmetricLoss cannot be the classifier loss here: '
                             f'{reason}')
        if loss_cfg.get('use_sigmoid') is not True:
            raise ValueError(
                f'{path}.use_sigmoid: must be set to True in the config (got '
                f'{loss_cfg.get("use_sigmoid", "nothing")!r}); mmdet heads read it from the '
                'config dict and without it add a background channel and score with softmax')
        kwargs = {k: v for k, v in loss_cfg.items() if k != 'type'}
        try:
            loss = AsymmetricLoss(**kwargs)
        except (TypeError, ValueError) as error:
            raise ValueError(f'{path}: {error}') from None
        if key == 'loss_cls' and loss.custom_cls_channels and owner is not None:
            _warn_if_shift_ignored(path, owner, loss.clip)
        if key == 'loss_cls' and owner is not None:
            _warn_if_prior_below_margin(cfg, path, node, owner, loss.clip)
    _check_num_classes(cfg, model, PHASE_KEYS[phase][0][0])


def _prior_hook(cfg) -> Optional[dict]:
    """The ``ClassifierPriorHook`` of ``cfg.custom_hooks``, if any."""
    return next((hook for hook in cfg.get('custom_hooks') or []
                 if isinstance(hook, dict) and type_name(hook.get('type'))
                 == 'ClassifierPriorHook'), None)


def _warn_if_prior_below_margin(cfg, path: str, head_cfg: dict, head: str,
                                clip: float) -> None:
    hook = _prior_hook(cfg)
    if hook is not None and isinstance(hook.get('prior'), (int, float)):
        prior, where = float(hook['prior']), 'ClassifierPriorHook'
    else:
        prior, where = classifier_prior(head_cfg, head), None
    if prior is None or prior > clip:
        return
    from mmdet.registry import MODELS
    if where is None and layer_paths(MODELS.get(head)) is not None:
        how = ('it sets that bias in init_weights, over any init_cfg: add '
               "custom_hooks=[dict(type='ClassifierPriorHook', prior=0.1)] (custom_imports: "
               "'asl_det.engine.hooks.classifier_prior_hook'), as configs/rtmdet_tiny_asl.py does")
    else:
        how = ('set the head\'s init_cfg override bias_prob (or ClassifierPriorHook\'s prior) '
               'above clip, as configs/retinanet_asl.py does')
    warnings.warn(
        f'{path}: {head} initialises its classifier to p = {prior:.3g}'
        f'{" (ClassifierPriorHook)" if where else ""}, at or below clip={clip}, where '
        'negatives give zero ASL loss and gradient, so training starts on the positives alone '
        f'(on the glyph study this cost 0.08 box AP); {how}', UserWarning, stacklevel=3)


def _warn_if_shift_ignored(path: str, head: str, clip: float) -> None:
    try:
        scorer = score_activation_override(head)
    except KeyError:  # not registered (yet): mmdet names the type when it builds the model
        return
    if scorer is not None:
        warnings.warn(
            f"{path}.score_activation: 'shifted' has no effect in {head}, which scores "
            f'detections itself in {scorer} (mmdet\'s own activation, e.g. a plain sigmoid) '
            'instead of calling AsymmetricLoss.get_activation. Its background scores are not '
            f'shifted down by clip={clip}, so more of them pass test_cfg.score_thr; raise '
            'score_thr by about clip for similar candidates, or set score_activation='
            "'sigmoid' to say that plain scores are meant", UserWarning, stacklevel=3)


def _check_num_classes(cfg, model: dict, loader_key: str) -> None:
    head = model.get('bbox_head')
    loader = cfg.get(loader_key)
    if not (isinstance(head, dict) and 'num_classes' in head and isinstance(loader, dict)
            and isinstance(loader.get('dataset'), dict)):
        return
    dataset = loader['dataset']
    if 'dataset' in dataset or 'datasets' in dataset:  # wrappers: leave to mmdet
        return
    classes = dataset_classes(dataset)
    if classes is not None and len(classes) != head['num_classes']:
        raise ValueError(
            f'model.bbox_head.num_classes: {head["num_classes"]}, but {loader_key}.dataset '
            f'has {len(classes)} classes: set it to {len(classes)} or change '
            f'{loader_key}.dataset.metainfo.classes')


# ----------------------------------------------------------------------------------- data

def _is_local(path: str, backend_args: Optional[dict]) -> bool:
    backend = (backend_args or {}).get('backend', 'local')
    return '://' not in path and backend == 'local'


def _join(root: Optional[str], path: str) -> str:
    """mmengine's ``data_root`` join: relative paths hang under ``data_root``."""
    return osp.join(root, path) if root and not osp.isabs(path) else path


def _datasets(node: dict, path: str) -> Iterator[Tuple[str, dict]]:
    """(path, config) of every leaf dataset under ``node``, looking through wrappers."""
    if isinstance(node.get('dataset'), dict):
        yield from _datasets(node['dataset'], f'{path}.dataset')
    elif isinstance(node.get('datasets'), (list, tuple)):
        for i, child in enumerate(node['datasets']):
            if isinstance(child, dict):
                yield from _datasets(child, f'{path}.datasets.{i}')
    else:
        yield path, node


def check_data(cfg, phase: str = 'train') -> None:
    """Check the local annotation files and image directories a ``phase`` reads."""
    for loader_key, evaluator_key in PHASE_KEYS[phase]:
        loader = cfg.get(loader_key)
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            for path, dataset in _datasets(loader['dataset'], f'{loader_key}.dataset'):
                _check_dataset(path, dataset)
        evaluators = cfg.get(evaluator_key) if evaluator_key else None
        named = ([(evaluator_key, evaluators)] if isinstance(evaluators, dict) else
                 [(f'{evaluator_key}.{i}', e) for i, e in enumerate(evaluators or [])])
        for key, evaluator in named:
            ann_file = evaluator.get('ann_file') if isinstance(evaluator, dict) else None
            if isinstance(ann_file, str) and _is_local(ann_file, evaluator.get('backend_args')) \
                    and not osp.isfile(ann_file):
                raise FileNotFoundError(f'{key}.ann_file: {ann_file} does not exist')


def _check_dataset(path: str, dataset: dict) -> None:
    backend_args = dataset.get('backend_args')
    root = dataset.get('data_root')
    ann_file = dataset.get('ann_file')
    ann_path = None
    if isinstance(ann_file, str) and ann_file and _is_local(ann_file, backend_args):
        ann_path = _join(root, ann_file)
        if not osp.isfile(ann_path):
            raise FileNotFoundError(f'{path}.ann_file: {ann_path} does not exist'
                                    + (f' (data_root={root!r})' if root else ''))
    prefixes = dataset.get('data_prefix') or {}
    image_dir, image_key = None, None
    for key in IMAGE_PREFIX_KEYS:
        prefix = prefixes.get(key)
        if isinstance(prefix, str) and (prefix or root) and _is_local(prefix, backend_args):
            image_dir, image_key = _join(root, prefix), f'{path}.data_prefix.{key}'
            if not osp.isdir(image_dir):
                raise FileNotFoundError(f'{image_key}: image directory {image_dir} does not exist'
                                        + (f' (data_root={root!r})' if root else ''))
            break
    if ann_path is None or not _is_coco_dataset(dataset_class(dataset)):
        return
    try:
        summary = check_coco_annotations(ann_path)
    except ValueError as error:
        raise ValueError(f'{path}.ann_file: {error}') from None
    classes = dataset_classes(dataset)
    missing = [name for name in classes or () if name not in summary['category_names']]
    if missing:
        raise ValueError(
            f'{path}.metainfo.classes: {missing} are not category names of {ann_path} '
            f'({list(summary["category_names"])}); mmdet maps labels by name, so these classes '
            'would get no boxes')
    if image_dir is not None and summary['first_file'] is not None:
        first = osp.join(image_dir, summary['first_file'])
        if not osp.isfile(first):
            raise FileNotFoundError(f'{image_key}: {first}, the first image of {ann_path}, '
                                    'does not exist')


def _is_coco_dataset(dataset_class) -> bool:
    """A COCO detection data set (panoptic ones keep no boxes in their annotation file)."""
    from mmdet.datasets import CocoDataset, CocoPanopticDataset
    return isinstance(dataset_class, type) and issubclass(dataset_class, CocoDataset) \
        and not issubclass(dataset_class, CocoPanopticDataset)


def _quote(problems: List[str]) -> str:
    shown = '; '.join(problems[:MAX_QUOTED])
    return shown + (f'; ... ({len(problems)} in all)' if len(problems) > MAX_QUOTED else '')


def check_coco_annotations(ann_file: str) -> Dict[str, Any]:
    """Check a COCO detection annotation file (read once) for what mmdet would silently drop.

    Checks: the ``images`` and ``categories`` lists (``annotations`` may be absent, as in
    test-dev image-info files); unique image ids with
    ``width`` and ``height``; every annotation's ``image_id`` among the images and its
    ``category_id`` among the categories (mmdet skips unknown ones); ``bbox`` = ``[x, y, w, h]``,
    finite, ``w, h >= 0`` (:func:`asl_det.intake.box_rule.malformed_bbox`). Where a box lies is
    not refused: by the project's one box rule (:mod:`asl_det.intake.box_rule`) boxes partly
    outside the image are kept (mmdet's ``Resize`` clips them), and boxes mmdet drops (under
    1 px, or no overlap with the image) are reported by the pre-flight, not refused.

    Returns:
        dict with ``images`` and ``annotations`` (counts), ``category_names`` (tuple) and
        ``first_file`` (``file_name`` of the first image, None without images).

    Raises:
        ValueError: the message names the file and quotes offending entries.
    """
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f'{ann_file} is not valid JSON: {error}') from None
    if not isinstance(data, dict):
        raise ValueError(f'{ann_file}: expected a COCO dict, got {type(data).__name__}')
    for key, default in (('images', None), ('categories', None), ('annotations', [])):
        if not isinstance(data.get(key, default), list):
            raise ValueError(f'{ann_file}: no `{key}` list')
    images, annotations, categories = data['images'], data.get('annotations', []), \
        data['categories']

    sizes: Dict[Any, Tuple[float, float]] = {}
    problems = []
    for image in images:
        image_id = image.get('id')
        if image_id in sizes:
            problems.append(f'image id {image_id} appears twice')
        elif not all(isinstance(image.get(k), (int, float)) and image.get(k) > 0
                     for k in ('width', 'height')):
            problems.append(f'image {image_id} has no positive width/height')
        sizes[image_id] = (image.get('width'), image.get('height'))
    if problems:
        raise ValueError(f'{ann_file}: bad images: {_quote(problems)}')

    category_ids = {c.get('id') for c in categories}
    unknown_image, unknown_category, bad_box = [], [], []
    for ann in annotations:
        ann_id, image_id = ann.get('id'), ann.get('image_id')
        if image_id not in sizes:
            unknown_image.append(f'annotation {ann_id}: image_id {image_id}')
            continue
        if ann.get('category_id') not in category_ids:
            unknown_category.append(f'annotation {ann_id} (image {image_id}): category_id '
                                    f'{ann.get("category_id")}')
        box = ann.get('bbox')
        if malformed_bbox(box):
            bad_box.append(f'annotation {ann_id} (image {image_id}): bbox {box}')
    for what, found in (('annotations refer to unknown images', unknown_image),
                        ('annotations have unknown category ids (known: '
                         f'{sorted(category_ids, key=str)})', unknown_category),
                        ('boxes are not [x, y, w, h] with finite values and w, h >= 0', bad_box)):
        if found:
            raise ValueError(f'{ann_file}: {len(found)} {what}: {_quote(found)}')

    return dict(images=len(images), annotations=len(annotations),
                category_names=tuple(c.get('name') for c in categories),
                first_file=images[0].get('file_name') if images else None)
