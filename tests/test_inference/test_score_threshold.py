"""Best-F1 thresholds from COCO's matching, against hand-computed operating points: duplicates
and wrong classes are false positives, a box matching a crowd region is ignored, equal scores
are kept or dropped together, ties in F1 go to the higher threshold."""
import numpy as np
import pytest
from mmdet.datasets.api_wrappers import COCO

from asl_det.inference.score_threshold import (
    best_f1_point,
    best_f1_threshold,
    matched_detections,
)


def box(x, y, w, h, **extra):
    return dict(bbox=[x, y, w, h], area=w * h, iscrowd=0, **extra)


@pytest.fixture
def coco_gt():
    """3 boxes on 2 images (cat 1: A on image 1, C on image 2; cat 2: B on image 1) and a crowd
    region of cat 2 on image 2."""
    anns = [box(10, 10, 20, 20, image_id=1, category_id=1),   # A
            box(50, 50, 20, 20, image_id=1, category_id=2),   # B
            box(10, 10, 30, 30, image_id=2, category_id=1),   # C
            dict(box(60, 60, 30, 30, image_id=2, category_id=2), iscrowd=1)]
    coco = COCO()
    coco.dataset = dict(
        images=[dict(id=1, width=100, height=100), dict(id=2, width=100, height=100)],
        annotations=[dict(ann, id=i + 1) for i, ann in enumerate(anns)],
        categories=[dict(id=1, name='a'), dict(id=2, name='b')])
    coco.createIndex()
    return coco


def detection(image_id, category_id, bbox, score):
    return dict(image_id=image_id, category_id=category_id, bbox=bbox, score=score)


RESULTS = [
    detection(1, 1, [10, 10, 20, 20], 0.9),   # TP (A)
    detection(1, 1, [60, 60, 10, 10], 0.8),   # FP
    detection(2, 1, [10, 10, 30, 30], 0.7),   # TP (C)
    detection(1, 1, [11, 11, 20, 20], 0.6),   # FP: A is taken by the 0.9 box
    detection(2, 2, [10, 10, 30, 30], 0.5),   # FP: C is class 1
    detection(1, 2, [50, 50, 20, 20], 0.3),   # TP (B)
    detection(2, 2, [60, 60, 30, 30], 0.95),  # on the crowd region: ignored
]


def test_matching_follows_coco(coco_gt):
    scores, true_positive, ground_truth = matched_detections(coco_gt, RESULTS)
    order = np.argsort(-scores)
    assert scores[order].tolist() == [0.9, 0.8, 0.7, 0.6, 0.5, 0.3]  # crowd match ignored
    assert true_positive[order].tolist() == [True, False, True, False, False, True]
    assert ground_truth == 3


def test_best_f1_and_a_fixed_operating_point(coco_gt):
    # F1 = 2 TP / (kept + 3) at 0.9 .. 0.3: 0.5, 0.4, 0.667, 0.571, 0.5, 0.667: the tie goes to
    # the higher threshold
    best = best_f1_threshold(coco_gt, RESULTS)
    assert best.threshold == 0.7 and best.detections == 6 and best.ground_truth == 3
    assert best.f1 == pytest.approx(2 / 3) and best.precision == pytest.approx(2 / 3)
    assert best.recall == pytest.approx(2 / 3)
    fixed = best_f1_threshold(coco_gt, RESULTS, threshold=0.5)
    assert (fixed.threshold, fixed.precision) == (0.5, pytest.approx(2 / 5))
    assert fixed.recall == pytest.approx(2 / 3) and fixed.f1 == pytest.approx(0.5)


def test_equal_scores_are_kept_together():
    # keeping one of two 0.5 boxes would give F1 1.0; a threshold keeps both: F1 0.8
    best = best_f1_point(np.array([0.9, 0.5, 0.5]), np.array([True, True, False]), 2, 0.5)
    assert best.threshold == 0.5 and best.f1 == pytest.approx(0.8)
    assert best.precision == pytest.approx(2 / 3) and best.recall == 1.0


def test_no_match_gives_no_threshold(coco_gt):
    assert best_f1_threshold(coco_gt, []).threshold is None
    assert best_f1_threshold(coco_gt, []).ground_truth == 3
    missed = best_f1_threshold(coco_gt, [detection(1, 2, [0, 0, 5, 5], 0.9)])
    assert missed.threshold is None and missed.f1 == 0.0 and missed.detections == 1


def test_iou_must_be_a_coco_threshold(coco_gt):
    assert best_f1_threshold(coco_gt, RESULTS, iou=0.75).threshold is not None
    with pytest.raises(ValueError, match='iou must be in'):
        best_f1_threshold(coco_gt, RESULTS, iou=0.3)
    with pytest.raises(ValueError, match="iou must be one of COCO's thresholds"):
        best_f1_threshold(coco_gt, RESULTS, iou=0.52)


def test_only_the_detectors_categories_count(coco_gt):
    """A detector of category 1 alone (cat_ids, as CocoMetric sets them): B is no missed box,
    its category's detections no false positives."""
    best = best_f1_threshold(coco_gt, RESULTS, cat_ids=[1])
    # category 1: 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP over 2 boxes: F1 0.667, 0.5, 0.8, 0.667
    assert best.ground_truth == 2 and best.detections == 4
    assert best.threshold == 0.7 and best.f1 == pytest.approx(0.8)
    assert best_f1_threshold(coco_gt, [], cat_ids=[1]).ground_truth == 2


def test_up_to_1000_detections_per_image_count_as_in_cocometric():
    """COCOeval's default maxDets caps at 100 per image and class; mmdet's CocoMetric sets
    [100, 300, 1000] (DINO keeps 300 per image). 149 false alarms above the one true box."""
    coco = COCO()
    coco.dataset = dict(images=[dict(id=1, width=2000, height=2000)],
                        annotations=[dict(box(0, 0, 10, 10, image_id=1, category_id=1), id=1)],
                        categories=[dict(id=1, name='a')])
    coco.createIndex()
    false_alarms = [detection(1, 1, [100 + 12 * i, 100, 10, 10], 0.9 - i * 0.002)
                    for i in range(149)]
    best = best_f1_threshold(coco, false_alarms + [detection(1, 1, [0, 0, 10, 10], 0.5)])
    assert best.threshold == 0.5 and best.detections == 150
    assert best.f1 == pytest.approx(2 / 151)


def test_only_the_images_named_count(coco_gt):
    """Images the detector could not read are left out: their boxes are not missed ones."""
    on_image_1 = [r for r in RESULTS if r['image_id'] == 1]
    assert matched_detections(coco_gt, on_image_1)[2] == 3
    scores, true_positive, ground_truth = matched_detections(coco_gt, on_image_1, img_ids=[1])
    assert ground_truth == 2 and true_positive.sum() == 2
    assert matched_detections(coco_gt, [], img_ids=[2])[2] == 1
