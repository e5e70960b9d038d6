"""A detector's score threshold with the best F1 on a labelled set, from COCO's own matching.

Why a threshold per model: ASL's ``'shifted'`` scores are ``max(sigmoid(x) - clip, 0)`` and its
background sits up to ``clip`` (docs/inference.md, "Scores"), focal loss's sigmoid scores sit
elsewhere, so one fixed threshold shows one model's high-precision end and another's high-recall
end.
Each model is drawn at the threshold that maximises its own F1, chosen by the same rule on the
same labelled images.

The matching is pycocotools' ``COCOeval.evaluate`` (what mmdet's ``CocoMetric`` runs for box AP):
per image and class, detections in score order take the best free ground truth at IoU >= ``iou``;
crowd boxes count as in AP (area range 'all'), and up to 1000 detections per image and class, as
``CocoMetric`` sets ``maxDets`` (COCOeval's own default would cap at 100). Its per-detection result
(``evalImgs``: ``dtScores``, ``dtMatches``, ``dtIgnore``, ``gtIgnore``) is pooled over images and
classes; F1 is evaluated at every distinct score (keeping detections with ``score >= t``).
"""
import contextlib
import io
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmdet.datasets.api_wrappers import COCO, COCOeval

from asl_det.validation import check_number


@dataclass(frozen=True)
class ScoreThreshold:
    """An operating point: keep detections with ``score >= threshold``.

    ``threshold`` is None when no detection matches a ground-truth box (F1 is 0 at every
    threshold). ``detections`` and ``ground_truth`` count what was matched (all detections,
    after COCO's ignore rules); ``precision``, ``recall`` and ``f1`` are at ``threshold``.
    """
    threshold: Optional[float]
    f1: float
    precision: float
    recall: float
    detections: int
    ground_truth: int
    iou: float


#: ``COCOeval.params.maxDets`` as mmdet's ``CocoMetric`` sets them (its AP50 uses the last).
MAX_DETS = [100, 300, 1000]


def matched_detections(coco_gt: COCO, results: List[dict], iou: float = 0.5,
                       cat_ids: Optional[Sequence[int]] = None,
                       img_ids: Optional[Sequence[int]] = None
                       ) -> Tuple[np.ndarray, np.ndarray, int]:
    """COCO's matching of ``results`` to ``coco_gt``, pooled over images and classes.

    Args:
        coco_gt: the labelled images.
        results: COCO detection results (``image_id``, ``category_id``, ``bbox`` xywh,
            ``score``), as mmdet's ``CocoMetric`` writes them.
        iou: the IoU a detection needs to match (one of COCO's thresholds, 0.50 to 0.95).
        cat_ids: the categories of the detector's classes, as ``CocoMetric`` sets them
            (``params.catIds``): boxes of other categories count nowhere. None: every category
            of ``coco_gt``.
        img_ids: the images that count (e.g. those the detector could read); None: every
            image of ``coco_gt``, with or without detections.

    Returns:
        (scores (N,), true_positive (N,) bool, number of ground-truth boxes) over the detections
        COCO does not ignore.
    """
    check_number('iou', iou, 0.5, 0.95)
    counted = None if img_ids is None else set(img_ids)
    if not results:
        return (np.zeros(0), np.zeros(0, bool),
                sum(not ann.get('iscrowd', 0) for ann in coco_gt.dataset['annotations']
                    if (cat_ids is None or ann['category_id'] in cat_ids)
                    and (counted is None or ann['image_id'] in counted)))
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), 'bbox')
        evaluator.params.maxDets = list(MAX_DETS)
        if cat_ids is not None:
            evaluator.params.catIds = list(cat_ids)
        if img_ids is not None:
            evaluator.params.imgIds = sorted(counted)
        evaluator.evaluate()
    params = evaluator.params
    matches = np.flatnonzero(np.isclose(params.iouThrs, iou))
    if matches.size == 0:
        raise ValueError(f'iou must be one of COCO\'s thresholds {params.iouThrs.tolist()}, '
                         f'got {iou}')
    t, thresholds = int(matches[0]), len(params.iouThrs)
    scores, true_positive, ground_truth = [], [], 0
    for entry in evaluator.evalImgs:
        if entry is None or list(entry['aRng']) != list(params.areaRng[0]):
            continue
        kept = ~np.asarray(entry['dtIgnore'], dtype=bool).reshape(thresholds, -1)[t]
        scores.append(np.asarray(entry['dtScores'], dtype=float)[kept])
        true_positive.append(np.asarray(entry['dtMatches']).reshape(thresholds, -1)[t][kept] > 0)
        ground_truth += int(np.count_nonzero(~np.asarray(entry['gtIgnore'], dtype=bool)))
    return (np.concatenate(scores) if scores else np.zeros(0),
            np.concatenate(true_positive) if true_positive else np.zeros(0, bool), ground_truth)


def best_f1_threshold(coco_gt: COCO, results: List[dict], iou: float = 0.5,
                      threshold: Optional[float] = None,
                      cat_ids: Optional[Sequence[int]] = None,
                      img_ids: Optional[Sequence[int]] = None) -> ScoreThreshold:
    """The score threshold that maximises F1 of ``results`` against ``coco_gt`` (``iou``,
    ``cat_ids`` and ``img_ids`` as for :func:`matched_detections`), or with ``threshold``
    given, the operating point there.

    Ties: among thresholds with the same F1 the highest is chosen (fewest boxes).
    """
    scores, true_positive, ground_truth = matched_detections(coco_gt, results, iou, cat_ids,
                                                             img_ids)
    if threshold is not None:
        check_number('threshold', threshold, 0.0, 1.0)
        return operating_point(scores, true_positive, ground_truth, threshold, iou)
    return best_f1_point(scores, true_positive, ground_truth, iou)


def operating_point(scores: np.ndarray, true_positive: np.ndarray, ground_truth: int,
                    threshold: float, iou: float) -> ScoreThreshold:
    """Precision, recall and F1 of the detections with ``score >= threshold``."""
    keep = scores >= threshold
    tp, kept = int(np.count_nonzero(true_positive[keep])), int(np.count_nonzero(keep))
    return ScoreThreshold(threshold=float(threshold),
                          f1=2 * tp / (kept + ground_truth) if kept + ground_truth else 0.0,
                          precision=tp / kept if kept else 0.0,
                          recall=tp / ground_truth if ground_truth else 0.0,
                          detections=int(scores.size), ground_truth=ground_truth, iou=iou)


def best_f1_point(scores: np.ndarray, true_positive: np.ndarray, ground_truth: int,
                  iou: float) -> ScoreThreshold:
    """Best F1 over thresholds at the distinct values of ``scores`` (N,), given which of the
    detections are true positives (N,) bool and the number of ground-truth boxes."""
    if scores.size == 0 or ground_truth == 0 or not true_positive.any():
        return ScoreThreshold(None, 0.0, 0.0, 0.0, int(scores.size), ground_truth, iou)
    order = np.argsort(-scores, kind='mergesort')
    scores, true_positive = scores[order], true_positive[order]
    tp = np.cumsum(true_positive)
    kept = np.arange(1, scores.size + 1)
    # a threshold keeps whole groups of equal scores: cut after the last of each group
    cuts = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    f1 = 2 * tp[cuts] / (kept[cuts] + ground_truth)  # 2PR / (P + R) = 2TP / (kept + GT)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold
    cut = cuts[best]
    return ScoreThreshold(threshold=float(scores[cut]), f1=float(f1[best]),
                          precision=float(tp[cut] / kept[cut]),
                          recall=float(tp[cut] / ground_truth), detections=int(scores.size),
                          ground_truth=ground_truth, iou=iou)
