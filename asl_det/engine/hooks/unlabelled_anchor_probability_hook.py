"""Where the unlabelled objects sit: the probability a detector gives, during training, to the
anchors of objects whose boxes were dropped from its train labels, against true background.

Not imported by ``asl_det``; a config that uses the hook names this module::

    custom_imports = dict(
        imports=['asl_det', 'asl_det.engine.hooks.unlabelled_anchor_probability_hook'])
"""
import contextlib
import copy
import json
import math
import os.path as osp
import random
import time
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.models.task_modules.assigners import ApproxMaxIoUAssigner, MaxIoUAssigner
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import DATASETS, HOOKS
from mmdet.structures.bbox import get_box_tensor
from mmengine.dataset import pseudo_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.structures import InstanceData
from torch import Tensor

from asl_det.intake.json_files import write_json_atomic
from asl_det.validation import check_int, check_number

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
KINDS = ('unlabelled', 'background')
#: The file the hook writes under the work dir by default.
OUT_FILE = 'unlabelled_anchor_probabilities.json'
#: Dataset wrappers unwrapped (through their ``dataset`` key) to reach the train data set.
DATASET_WRAPPERS = ('RepeatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset')
#: Scalars logged into the message hub at each probe: (kind, quantile key).
LOGGED_SCALARS = (('unlabelled', 'p50'), ('unlabelled', 'p90'), ('background', 'p50'),
                  ('background', 'p99'))


class AnchorProbabilities(NamedTuple):
    """Negatives of one image split by what lies under them.

    ``unlabelled_index`` (U,) rows of the anchors on a dropped box, ``unlabelled_prob`` (U,)
    their probability of that box's class; ``background_index`` (B,) rows of the anchors on no
    box, ``background_prob`` (B,) their highest class probability.
    """
    unlabelled_index: Tensor
    unlabelled_prob: Tensor
    background_index: Tensor
    background_prob: Tensor


def assigner_thresholds(assigner) -> Tuple[float, float]:
    """``(pos_iou_thr, neg_upper)`` of a MaxIoUAssigner: a negative is an anchor whose IoU with
    every labelled box is below ``neg_upper`` (``neg_iou_thr``, or its upper end for a
    ``(low, high)`` range, whose anchors below ``low`` are ignored, not negatives).

    Raises TypeError for any other assigner (they assign by other rules).
    """
    if not isinstance(assigner, MaxIoUAssigner) or isinstance(assigner, ApproxMaxIoUAssigner):
        raise TypeError(f'unlabelled-anchor probing needs a MaxIoUAssigner (pos_iou_thr, '
                        f'neg_iou_thr on anchors), got {type(assigner).__name__}')
    neg = assigner.neg_iou_thr
    neg_upper = neg[1] if isinstance(neg, (tuple, list)) else neg
    return float(assigner.pos_iou_thr), float(neg_upper)


def unlabelled_anchor_probabilities(probs: Tensor, anchors: Tensor, kept_boxes: Tensor,
                                    kept_labels: Tensor, dropped_boxes: Tensor,
                                    dropped_labels: Tensor, assigner,
                                    ignored_boxes: Optional[Tensor] = None
                                    ) -> AnchorProbabilities:
    """Assign the anchors of one image to its kept boxes as training does and split the
    negatives (assigned gt index 0).

    - unlabelled-object anchors: negatives whose IoU with a dropped box is at least the
      assigner's ``pos_iou_thr`` (training would have made them positives of that box); their
      probability is that of the class of their highest-IoU dropped box;
    - background anchors: negatives whose IoU with every box (kept, dropped and ignored) is
      below the negative threshold (:func:`assigner_thresholds`); their probability is the
      highest over classes.

    Args:
        probs: (A, C) sigmoid class probabilities of the anchors.
        anchors: (A, 4) anchors, x1 y1 x2 y2 in pixels of the network input.
        kept_boxes, kept_labels: (K, 4) and (K,) the boxes training sees.
        dropped_boxes, dropped_labels: (D, 4) and (D,) the boxes removed from the train labels.
        assigner: the head's MaxIoUAssigner (its IoU calculator measures every overlap).
        ignored_boxes: (G, 4) crowd boxes (passed to the assigner as ignored), or None.
    """
    pos_thr, neg_upper = assigner_thresholds(assigner)
    if probs.dim() != 2 or anchors.shape != (probs.size(0), 4):
        raise ValueError(f'probs must be (A, C) and anchors (A, 4), got {tuple(probs.shape)} '
                         f'and {tuple(anchors.shape)}')
    ignored = None
    if ignored_boxes is not None and len(ignored_boxes):
        ignored = InstanceData(bboxes=ignored_boxes)
    assigned = assigner.assign(InstanceData(priors=anchors),
                               InstanceData(bboxes=kept_boxes, labels=kept_labels), ignored)
    negative = assigned.gt_inds == 0
    boxes = [b for b in (kept_boxes, dropped_boxes, ignored_boxes) if b is not None and len(b)]
    unlabelled_index = torch.zeros(0, dtype=torch.long, device=anchors.device)
    unlabelled_prob = probs.new_zeros(0)
    background = negative
    if boxes:
        overlaps = assigner.iou_calculator(torch.cat(boxes), anchors)  # (boxes, A)
        background = negative & (overlaps.max(dim=0).values < neg_upper)
        if len(dropped_boxes):
            first = len(kept_boxes)
            dropped_iou, nearest = overlaps[first:first + len(dropped_boxes)].max(dim=0)
            unlabelled_index = torch.nonzero(negative & (dropped_iou >= pos_thr)).flatten()
            classes = dropped_labels[nearest[unlabelled_index]].long()
            unlabelled_prob = probs[unlabelled_index, classes]
    background_index = torch.nonzero(background).flatten()
    return AnchorProbabilities(unlabelled_index, unlabelled_prob, background_index,
                               probs[background_index].max(dim=1).values)


def quantile_key(q: float) -> str:
    """``0.5 -> 'p50'``, ``0.99 -> 'p99'``, ``0.999 -> 'p99.9'``."""
    return f'p{100 * q:g}'


def summarise_probabilities(probs, quantiles: Sequence[float] = QUANTILES,
                            thresholds: Sequence[float] = THRESHOLDS) -> Dict:
    """Distribution of a probability vector (N,).

    Returns ``count``; ``quantiles`` ``{'p10': value, ...}`` (linear interpolation between order
    statistics, numpy's default); ``share_above`` ``{'0.05': share of p > 0.05, ...}``. With
    N = 0 the quantiles and shares are None.
    """
    values = torch.as_tensor(probs).detach().flatten().double().cpu()
    count = values.numel()
    summary = dict(count=count, quantiles={}, share_above={})
    ordered = values.sort().values
    for q in quantiles:
        value = None
        if count:
            position = q * (count - 1)
            low = math.floor(position)
            high = min(low + 1, count - 1)
            value = float(ordered[low] + (position - low) * (ordered[high] - ordered[low]))
        summary['quantiles'][quantile_key(q)] = value
    for t in thresholds:
        summary['share_above'][f'{t:g}'] = (float((values > t).double().mean()) if count
                                            else None)
    return summary


def summarise_probe_file(path: str) -> Dict:
    """Read a file the hook wrote back as series over the evaluations.

    Returns ``config`` (as written), ``iters`` (one per evaluation), ``series``
    ``{'<kind>_count' | '<kind>_<quantile key>' | '<kind>_above_<threshold>': [value per
    evaluation]}`` for ``kind`` in ('unlabelled', 'background'), ``separating_threshold`` and
    ``separating_gap`` series (the threshold t of the file's list with the largest
    ``share(unlabelled > t) - share(background > t)``, and that difference; None where a kind
    is empty), and ``final`` (every series' last value, ``{}`` for a file without evaluations).
    """
    with open(path) as f:
        record = json.load(f)
    evaluations = record['evaluations']
    series: Dict[str, List] = {}
    for evaluation in evaluations:
        for key, value in _flat_evaluation(evaluation).items():
            series.setdefault(key, []).append(value)
    final = {key: values[-1] for key, values in series.items()}
    return dict(config=record.get('config', {}), iters=[e['iter'] for e in evaluations],
                series=series, final=final)


def _flat_evaluation(evaluation: Dict) -> Dict:
    flat = {}
    for kind in KINDS:
        summary = evaluation[kind]
        flat[f'{kind}_count'] = summary['count']
        flat.update({f'{kind}_{key}': value for key, value in summary['quantiles'].items()})
        flat.update({f'{kind}_above_{key}': value
                     for key, value in summary['share_above'].items()})
    gaps = [(u - b, float(t)) for t, u, b in
            ((t, evaluation['unlabelled']['share_above'][t],
              evaluation['background']['share_above'][t])
             for t in evaluation['unlabelled']['share_above'])
            if u is not None and b is not None]
    best = max(gaps) if gaps else (None, None)
    flat['separating_threshold'], flat['separating_gap'] = best[1], best[0]
    return flat


@contextlib.contextmanager
def preserved_random_state():
    """Restore Python's, numpy's and torch's global random states on exit."""
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if states[3] is not None:
            torch.cuda.set_rng_state_all(states[3])


def _unwrap_dataset_cfg(cfg):
    while cfg.get('type') in DATASET_WRAPPERS or (
            isinstance(cfg.get('type'), str) and cfg['type'].split('.')[-1] in DATASET_WRAPPERS):
        cfg = cfg['dataset']
    if 'ann_file' not in cfg or 'dataset' in cfg or 'datasets' in cfg:
        raise ValueError(
            f'UnlabelledAnchorProbabilityHook needs train_dataloader.dataset to be a COCO-style '
            f'data set with an ann_file (through {", ".join(DATASET_WRAPPERS)}), got type '
            f'{cfg.get("type")!r}')
    return cfg


def _is_transform(transform, name: str) -> bool:
    kind = transform.get('type')
    return isinstance(kind, str) and kind.split('.')[-1] == name


def probe_pipeline(val_pipeline: Sequence[Dict]) -> List[Dict]:
    """The val pipeline with ``LoadAnnotations`` right after image loading (mmdet's test
    pipelines load annotations after ``Resize`` so that boxes stay in original pixels; the probe
    needs them resized with the image) and ``img_shape`` among the packed meta keys."""
    pipeline = [copy.deepcopy(dict(t)) for t in val_pipeline]
    loaders = [t for t in pipeline if _is_transform(t, 'LoadAnnotations')]
    load_annotations = loaders[0] if loaders else dict(type='LoadAnnotations')
    pipeline = [t for t in pipeline if not _is_transform(t, 'LoadAnnotations')]
    load_annotations.update(with_bbox=True, with_label=True)
    image_loaders = [i for i, t in enumerate(pipeline) if 'LoadImage' in str(t.get('type'))]
    if not image_loaders:
        raise ValueError('UnlabelledAnchorProbabilityHook: val_dataloader.dataset.pipeline has '
                         'no image-loading transform (LoadImageFromFile)')
    pipeline.insert(image_loaders[0] + 1, load_annotations)
    for t in pipeline:
        if _is_transform(t, 'PackDetInputs') and 'meta_keys' in t:
            if 'img_shape' not in t['meta_keys']:
                t['meta_keys'] = tuple(t['meta_keys']) + ('img_shape', )
    return pipeline


def _resolve(path: str, data_root: Optional[str]) -> str:
    return path if osp.isabs(path) or not data_root else osp.join(data_root, path)


def _box_key(label: int, bbox: Sequence[float]) -> Tuple:
    return (int(label), ) + tuple(float(v) for v in bbox)


def kept_box_keys(train_coco: Dict, full_coco: Dict, cat2label: Dict[int, int],
                  train_file: str = 'train ann_file', full_file: str = 'full_ann_file'
                  ) -> Dict[int, Counter]:
    """Per image id, the multiset of the kept boxes as ``(label, x1, y1, x2, y2)`` computed as
    mmdet's CocoDataset computes its instances (``x1 + w``), so that an instance of the full
    file is kept exactly when its key is in the multiset (identical boxes are interchangeable).

    Raises ValueError if an annotation of the train file is not in the full file (same id,
    image, class and box): the two files do not belong together.
    """
    full_by_id = {ann['id']: ann for ann in full_coco['annotations']}
    kept: Dict[int, Counter] = {}
    for ann in train_coco['annotations']:
        full = full_by_id.get(ann['id'])
        if full is None or any(full[k] != ann[k] for k in ('image_id', 'category_id', 'bbox')):
            raise ValueError(
                f'annotation id {ann["id"]} of {train_file} is not in {full_file} with the same '
                f'image, category and bbox: full_ann_file must be the complete version of the '
                f'train ann_file')
        if ann['category_id'] not in cat2label:
            continue
        x, y, w, h = ann['bbox']
        key = _box_key(cat2label[ann['category_id']], (x, y, x + w, y + h))
        kept.setdefault(ann['image_id'], Counter())[key] += 1
    return kept


def split_instances(instances: Sequence[Dict], kept: Counter) -> List[bool]:
    """Whether each instance of a data info (``bbox``, ``bbox_label``) is among ``kept``."""
    remaining = Counter(kept)
    flags = []
    for instance in instances:
        key = _box_key(instance['bbox_label'], instance['bbox'])
        flags.append(remaining[key] > 0)
        remaining[key] -= 1
    return flags


def probed_head(model) -> Tuple:
    """``(bbox_head, assigner)`` of a single-stage anchor detector with sigmoid scores and a
    MaxIoUAssigner; TypeError naming the head and assigner otherwise."""
    head = getattr(model, 'bbox_head', None)
    if head is None or not hasattr(model, 'extract_feat') or not hasattr(
            head, 'prior_generator'):
        raise TypeError(f'UnlabelledAnchorProbabilityHook needs a single-stage anchor detector '
                        f'(extract_feat, bbox_head.prior_generator), got {type(model).__name__}')
    assigner = getattr(head, 'assigner', None)
    if assigner is None:
        raise TypeError(f'{type(head).__name__} has no assigner (it is built from the head\'s '
                        f'train_cfg)')
    try:
        assigner_thresholds(assigner)
    except TypeError as error:
        raise TypeError(f'{type(head).__name__}: {error}') from None
    if getattr(head, 'cls_out_channels', None) != head.num_classes:
        raise TypeError(f'{type(head).__name__} scores {head.cls_out_channels} channels for '
                        f'{head.num_classes} classes: the probe needs sigmoid scores')
    return head, assigner


@HOOKS.register_module()
class UnlabelledAnchorProbabilityHook(Hook):
    """At each validation, measure the probabilities of the anchors of dropped (unlabelled)
    objects and of background anchors on a fixed set of train images.

    The images are the first ``num_images`` (sorted by image id) of the train data set that
    training uses (with ``filter_cfg.filter_empty_gt``, those with a kept annotation), loaded
    with the val pipeline and every box of ``full_ann_file``. The boxes whose annotation is in
    the train ``ann_file`` are kept, the others dropped. In eval mode and without gradients the
    detector's head scores them; the head's assigner assigns its anchors to the kept boxes as
    training does, and :func:`unlabelled_anchor_probabilities` splits the negatives. Each
    probe appends ``{'iter', 'epoch', 'seconds', 'images', 'kept_boxes', 'dropped_boxes',
    'unlabelled': summary, 'background': summary}`` (:func:`summarise_probabilities`) to
    ``{'config': ..., 'evaluations': [...], 'validation_iters': [...]}`` in
    ``<work_dir>/<out_file>`` (atomically, at every validation). A run resumed from iteration
    N keeps the file's entries up to N and counts its validations on from there; a run trained
    from iteration 0 starts the file afresh. It logs ``val/unlabelled_p50``,
    ``val/unlabelled_p90``, ``val/background_p50``, ``val/background_p99`` (dropped from the
    message hub at the validations it skips, so that no log line repeats an old value). Main
    process only; the global random states are left untouched. Needs a single-stage detector
    whose head assigns with a MaxIoUAssigner.

    Args:
        full_ann_file: the complete COCO annotations of the train images (relative paths are
            joined with the train data set's ``data_root``).
        num_images: how many train images to probe (fewer if the set is smaller).
        interval: probe at the first validation and every ``interval``-th after it, counted
            over the whole run (``--resume`` included: the file's ``validation_iters``).
        batch_size: images per forward pass.
        out_file: file name under ``work_dir`` (or an absolute path).
        quantiles: quantiles recorded, each in [0, 1].
        thresholds: probabilities t at which the share of p > t is recorded, each in [0, 1].
    """

    priority = 'NORMAL'  # before LoggerHook, so the scalars are in the validation's log line

    def __init__(self, full_ann_file: str, num_images: int = 64, interval: int = 1,
                 batch_size: int = 8, out_file: str = OUT_FILE,
                 quantiles: Sequence[float] = QUANTILES,
                 thresholds: Sequence[float] = THRESHOLDS):
        if not isinstance(full_ann_file, str) or not full_ann_file:
            raise ValueError(f'full_ann_file must be a path, got {full_ann_file!r}')
        if not isinstance(out_file, str) or not out_file:
            raise ValueError(f'out_file must be a file name, got {out_file!r}')
        self.full_ann_file = full_ann_file
        self.num_images = check_int('num_images', num_images, low=1)
        self.interval = check_int('interval', interval, low=1)
        self.batch_size = check_int('batch_size', batch_size, low=1)
        self.out_file = out_file
        self.quantiles = tuple(check_number('quantiles[]', q, 0.0, 1.0) for q in quantiles)
        self.thresholds = tuple(check_number('thresholds[]', t, 0.0, 1.0) for t in thresholds)
        self._probe = None
        self._start_iter: Optional[int] = None  # where this process's training started
        self._seen: List[int] = []  # the iterations this process validated at

    def before_train(self, runner) -> None:
        self._start_iter = runner.iter

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if not is_main_process():
            return
        saved = self.saved(runner)
        self._seen.append(runner.iter)
        validations = saved['validation_iters'] + [runner.iter]
        if (len(validations) - 1) % self.interval:
            # else the validation's log line and scalars.json would repeat the last probe's values
            for kind, key in LOGGED_SCALARS:
                runner.message_hub.log_scalars.pop(f'val/{kind}_{key}', None)
            write_json_atomic(dict(saved, validation_iters=validations), self.path(runner))
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        start = time.perf_counter()
        with preserved_random_state():
            if self._probe is None:
                self._probe = self.prepare(runner.cfg)
            evaluation = self.measure(model)
        evaluation = dict(iter=runner.iter, epoch=runner.epoch,
                          seconds=round(time.perf_counter() - start, 3), **evaluation)
        head, assigner = probed_head(model)
        pos_thr, neg_upper = assigner_thresholds(assigner)
        config = dict(self._probe['config'], head=type(head).__name__,
                      assigner=type(assigner).__name__, pos_iou_thr=pos_thr,
                      neg_iou_thr=neg_upper)
        self.record(runner, evaluation, config, saved)

    def prepare(self, cfg) -> Dict:
        """Build the probe data set and choose its images (from the runner's config)."""
        if not cfg.get('train_dataloader') or not cfg.get('val_dataloader'):
            raise ValueError('UnlabelledAnchorProbabilityHook needs train_dataloader and '
                             'val_dataloader in the config')
        train_cfg = _unwrap_dataset_cfg(copy.deepcopy(cfg.train_dataloader.dataset))
        val_cfg = cfg.val_dataloader.dataset
        while 'pipeline' not in val_cfg and 'dataset' in val_cfg:
            val_cfg = val_cfg['dataset']
        data_root = train_cfg.get('data_root')
        train_file = _resolve(train_cfg['ann_file'], data_root)
        filter_cfg = train_cfg.get('filter_cfg') or {}
        dataset = DATASETS.build(dict(train_cfg, ann_file=self.full_ann_file, test_mode=True,
                                      lazy_init=False, serialize_data=False,
                                      pipeline=probe_pipeline(val_cfg['pipeline'])))
        if not hasattr(dataset, 'cat2label'):
            raise TypeError(f'UnlabelledAnchorProbabilityHook needs a COCO-style train data set '
                            f'(cat2label), got {type(dataset).__name__}')
        with open(dataset.ann_file) as f:
            full_coco = json.load(f)
        with open(train_file) as f:
            train_coco = json.load(f)
        kept = kept_box_keys(train_coco, full_coco, dataset.cat2label, train_file,
                             dataset.ann_file)
        trained_images = {ann['image_id'] for ann in train_coco['annotations']}
        min_size = filter_cfg.get('min_size', 0)
        candidates = []
        for index, info in enumerate(dataset.data_list):
            if filter_cfg.get('filter_empty_gt') and info['img_id'] not in trained_images:
                continue
            if min(info['width'], info['height']) < min_size:
                continue
            candidates.append((info['img_id'], index))
        chosen = sorted(candidates)[:self.num_images]
        return dict(dataset=dataset, kept=kept, indices=[index for _, index in chosen],
                    config=dict(full_ann_file=dataset.ann_file, train_ann_file=train_file,
                                image_ids=[img_id for img_id, _ in chosen],
                                num_images=len(chosen), quantiles=list(self.quantiles),
                                thresholds=list(self.thresholds)))

    def _load(self, index: int) -> Tuple[Dict, List[bool]]:
        """The packed sample of one probe image and whether each of its boxes (not crowd) is
        kept, in the order PackDetInputs keeps them."""
        dataset = self._probe['dataset']
        info = dataset.get_data_info(index)
        instances = info.get('instances', [])
        flags = split_instances(instances, self._probe['kept'].get(info['img_id'], Counter()))
        kept = [flag for flag, inst in zip(flags, instances) if not inst.get('ignore_flag', 0)]
        sample = dataset.pipeline(info)
        boxes = len(sample['data_samples'].gt_instances)
        if boxes != len(kept):
            raise ValueError(f'the val pipeline kept {boxes} of the {len(kept)} boxes of image '
                             f'{info["img_id"]}: the probe needs a pipeline that keeps every box '
                             f'(no FilterAnnotations)')
        return sample, kept

    @torch.no_grad()
    def measure(self, model) -> Dict:
        """Probe ``model`` (a single-stage detector, not wrapped) on the prepared images:
        ``images``, ``kept_boxes``, ``dropped_boxes`` and a :func:`summarise_probabilities` per
        kind."""
        head, assigner = probed_head(model)
        allowed_border = (head.train_cfg or {}).get('allowed_border', -1)
        was_training = model.training
        model.eval()
        probs = {kind: [] for kind in KINDS}
        kept_boxes = dropped_boxes = 0
        indices = self._probe['indices']
        try:
            for start in range(0, len(indices), self.batch_size):
                loaded = [self._load(i) for i in indices[start:start + self.batch_size]]
                data = model.data_preprocessor(pseudo_collate([s for s, _ in loaded]), False)
                cls_scores = head(model.extract_feat(data['inputs']))[0]
                sizes = [score.shape[-2:] for score in cls_scores]
                anchors = torch.cat(head.prior_generator.grid_priors(
                    sizes, device=cls_scores[0].device))
                for j, (sample, (_, kept)) in enumerate(zip(data['data_samples'], loaded)):
                    logits = torch.cat([score[j].permute(1, 2, 0).reshape(-1, head.num_classes)
                                        for score in cls_scores])
                    valid = torch.cat(head.prior_generator.valid_flags(
                        sizes, sample.metainfo['pad_shape'], anchors.device))
                    inside = anchor_inside_flags(anchors, valid, sample.metainfo['img_shape'][:2],
                                                 allowed_border)
                    boxes = get_box_tensor(sample.gt_instances.bboxes).float()
                    labels = sample.gt_instances.labels
                    keep = torch.tensor(kept, dtype=torch.bool, device=boxes.device)
                    # crowd regions: ignored by the assigner (kept or dropped) and no background
                    crowd = sample.get('ignored_instances')
                    crowd = get_box_tensor(crowd.bboxes).float() if crowd is not None else None
                    split = unlabelled_anchor_probabilities(
                        logits[inside].float().sigmoid(), anchors[inside], boxes[keep],
                        labels[keep], boxes[~keep], labels[~keep], assigner, crowd)
                    probs['unlabelled'].append(split.unlabelled_prob.cpu())
                    probs['background'].append(split.background_prob.cpu())
                    kept_boxes += int(keep.sum())
                    dropped_boxes += int((~keep).sum())
        finally:
            model.train(was_training)
        return dict(images=len(indices), kept_boxes=kept_boxes, dropped_boxes=dropped_boxes,
                    **{kind: summarise_probabilities(torch.cat(values) if values else [],
                                                     self.quantiles, self.thresholds)
                       for kind, values in probs.items()})

    def path(self, runner) -> str:
        """The output file: ``out_file`` under the work dir, or as given if absolute."""
        return (self.out_file if osp.isabs(self.out_file)
                else osp.join(runner.work_dir, self.out_file))

    def saved(self, runner) -> Dict:
        """What the output file holds of this run before this validation: ``evaluations`` and
        ``validation_iters`` below the current iteration that this process wrote or, in a run
        resumed from iteration N, that are at most N (the earlier sittings'; a run from
        iteration 0 keeps none of a file it finds). Outside training: all below the current
        iteration."""
        path = self.path(runner)
        saved = dict(evaluations=[], validation_iters=[])
        if osp.isfile(path):
            with open(path) as f:
                saved.update(json.load(f))

        def keep(iteration: int) -> bool:
            return iteration < runner.iter and (
                self._start_iter is None or 0 < iteration <= self._start_iter
                or iteration in self._seen)

        return dict(saved, evaluations=[e for e in saved['evaluations'] if keep(e['iter'])],
                    validation_iters=[i for i in saved['validation_iters'] if keep(i)])

    def record(self, runner, evaluation: Dict, config: Dict, saved: Dict) -> None:
        """Append ``evaluation`` to the ``saved`` content of the output file (``config``
        replaces its own) and log its headline scalars."""
        write_json_atomic(dict(saved, evaluations=saved['evaluations'] + [evaluation],
                               validation_iters=saved['validation_iters'] + [runner.iter],
                               config=config), self.path(runner))
        for kind, key in LOGGED_SCALARS:
            value = evaluation[kind]['quantiles'].get(key)
            if value is not None:
                runner.message_hub.update_scalar(f'val/{kind}_{key}', value)
