"""Which images a side-by-side picture shows: chosen by one rule for every model.

- ``'disagree'``: the images where the models' detections (each at its own threshold) differ
  most. Disagreement of an image = over every pair of models, the number of detections of one
  with no detection of the same class by the other at IoU >= ``iou``, counted both ways.
  Highest first; ties by image id.
- ``'sample'``: a fixed random sample (``seed``), in image-id order; it needs no predictions
  beyond the drawn images.
"""
from itertools import combinations
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps

from asl_det.inference.labelled_images import Detections
from asl_det.validation import check_int, check_number

SELECTIONS = ('disagree', 'sample')


def covered(boxes: Detections, by: Detections, iou: float = 0.5) -> np.ndarray:
    """(N,) bool: which of ``boxes`` have a box of ``by`` with the same label at IoU >= ``iou``
    (not one-to-one: one box of ``by`` can cover several)."""
    if len(boxes) == 0 or len(by) == 0:
        return np.zeros(len(boxes), bool)
    overlaps = bbox_overlaps(torch.from_numpy(boxes.bboxes), torch.from_numpy(by.bboxes)).numpy()
    same_class = boxes.labels[:, None] == by.labels[None, :]
    return ((overlaps >= iou) & same_class).any(axis=1)


def disagreement(per_model: Sequence[Detections], iou: float = 0.5) -> int:
    """Detections of each model that another model has no same-class box for, summed over
    every pair of models (both ways)."""
    return int(sum(np.count_nonzero(~covered(a, b, iou)) + np.count_nonzero(~covered(b, a, iou))
                   for a, b in combinations(per_model, 2)))


def sample_images(candidates: Sequence[int], count: int, seed: int = 0) -> List[int]:
    """``count`` of ``candidates`` (all if fewer) drawn with ``seed``, in ascending order."""
    check_int('count', count, 1)
    ordered = sorted(candidates)
    if len(ordered) <= count:
        return ordered
    chosen = np.random.default_rng(seed).choice(len(ordered), size=count, replace=False)
    return [ordered[i] for i in sorted(chosen)]


def most_disagreed(thresholded: Sequence[Dict[int, Detections]], candidates: Sequence[int],
                   count: int, iou: float = 0.5) -> List[int]:
    """The ``count`` candidates with the highest :func:`disagreement` between the models'
    thresholded detections (``thresholded[m][img_id]``; an image a model has no entry for
    counts as no detections), highest first, ties by image id."""
    check_int('count', count, 1)
    check_number('iou', iou, 0.0, 1.0)
    scored = [(-disagreement([model.get(img_id, Detections.empty()) for model in thresholded],
                             iou), img_id) for img_id in candidates]
    return [img_id for _, img_id in sorted(scored)[:count]]
