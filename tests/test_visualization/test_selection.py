"""Which images the side-by-side picture shows: disagreement counted by hand, ties by image id,
a seeded sample."""
import numpy as np
import pytest

from asl_det.inference.labelled_images import Detections
from asl_det.visualization.selection import (
    covered,
    disagreement,
    most_disagreed,
    sample_images,
)


def boxes(*rows):
    """Detections from (x1, y1, x2, y2, label) rows, score 1."""
    array = np.array(rows, np.float32).reshape(-1, 5)
    return Detections(array[:, :4], array[:, 4].astype(np.int64), np.ones(len(array), np.float32))


A = (0, 0, 10, 10, 0)
A_SHIFTED = (1, 0, 11, 10, 0)  # IoU with A: 90 / 110 = 0.82
A_FAR = (5, 0, 15, 10, 0)      # IoU with A: 50 / 150 = 0.33
B = (20, 20, 30, 30, 1)


def test_covered_needs_class_and_iou():
    assert covered(boxes(A, B), boxes(A_SHIFTED)).tolist() == [True, False]
    assert covered(boxes(A), boxes(A_FAR)).tolist() == [False]
    assert covered(boxes(A), boxes((0, 0, 10, 10, 1))).tolist() == [False]  # other class
    assert covered(boxes(A), Detections.empty()).tolist() == [False]


def test_disagreement_counts_both_ways_over_pairs():
    first, second, third = boxes(A, B), boxes(A_SHIFTED), boxes(A_FAR, B)
    assert disagreement([first, second]) == 1          # B unmatched in second
    assert disagreement([first, third]) == 2           # A vs A_FAR both ways
    assert disagreement([first, second, third]) == 1 + 2 + 3  # second/third: A_SHIFTED, A_FAR, B


def test_most_disagreed_orders_by_disagreement_then_id():
    per_model = [{1: boxes(A), 2: boxes(A, B), 3: boxes(A)}, {1: boxes(A), 2: boxes(A), 3: boxes()}]
    assert most_disagreed(per_model, [3, 2, 1], 3) == [2, 3, 1]  # 1, 1, 0: ties by id
    assert most_disagreed(per_model, [1, 2, 3, 4], 2) == [2, 3]  # 4: no predictions at all


def test_sample_is_seeded_sorted_and_capped():
    chosen = sample_images(range(100), 5, seed=3)
    assert chosen == sorted(chosen) and len(set(chosen)) == 5
    assert sample_images(range(100), 5, seed=3) == chosen != sample_images(range(100), 5, seed=4)
    assert sample_images([4, 2], 5) == [2, 4]
    with pytest.raises(ValueError, match='count must be an integer'):
        sample_images([1], 0)
