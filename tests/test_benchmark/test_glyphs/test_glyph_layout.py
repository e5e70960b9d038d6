"""Placing glyphs in one image (asl_det/benchmark/glyphs/layout.py)."""
import collections
import itertools

import numpy as np
import pytest

from asl_det.benchmark.glyphs import GLYPH_CLASSES, render_glyph_image
from asl_det.benchmark.glyphs.layout import MAX_IOU, MIN_VISIBLE, box_iou, ink_box, try_place
from asl_det.benchmark.glyphs.sources import INK


def mask_iou(a, b, size=40):
    """IoU of two (x0, y0, x1, y1) boxes by counting pixels: the reference for box_iou."""
    masks = []
    for x0, y0, x1, y1 in (a, b):
        mask = np.zeros((size, size), bool)
        mask[y0:y1, x0:x1] = True
        masks.append(mask)
    union = (masks[0] | masks[1]).sum()
    return (masks[0] & masks[1]).sum() / union


@pytest.fixture(scope='module')
def rendered():
    """150 images with 1-6 glyphs of 20-40 px."""
    return [render_glyph_image(np.random.default_rng([7, index]), max_objects=6, min_size=20,
                               max_size=40) for index in range(150)]


def test_box_iou_matches_pixel_counting():
    rng = np.random.default_rng(0)
    for _ in range(200):
        boxes = []
        for _ in range(2):
            x0, y0 = rng.integers(0, 30, 2)
            boxes.append((int(x0), int(y0), int(x0 + rng.integers(1, 10)),
                          int(y0 + rng.integers(1, 10))))
        assert box_iou(*boxes) == pytest.approx(mask_iou(*boxes))


def test_ink_box_is_tight_and_counts_ink_pixels():
    coverage = np.zeros((8, 9), np.float32)
    coverage[2, 3] = coverage[5, 6] = coverage[4, 4] = 1.0
    coverage[0, 0] = INK - 0.01
    assert ink_box(coverage) == (3, 2, 7, 6, 3)
    assert ink_box(np.zeros((4, 4), np.float32)) == (0, 0, 0, 0, 0)


def test_try_place_keeps_every_glyph_visible_and_boxes_apart():
    rng = np.random.default_rng(3)
    canvas = np.full((48, 48, 3), 0.5, np.float32)
    block = np.ones((20, 20), np.float32)
    glyphs = []
    while not try_place(rng, canvas, glyphs, 0, block):
        pass
    placed = 1
    for _ in range(300):
        before = canvas.copy(), [(g.box, g.visible.copy()) for g in glyphs]
        if try_place(rng, canvas, glyphs, 1, block):
            placed += 1
        else:  # a refused position changes nothing
            np.testing.assert_array_equal(canvas, before[0])
            assert [g.box for g in glyphs] == [box for box, _ in before[1]]
        for glyph in glyphs:
            assert glyph.box[4] >= MIN_VISIBLE * glyph.full_ink
        for a, b in itertools.combinations([g.box for g in glyphs], 2):
            assert mask_iou(a[:4], b[:4], size=48) <= MAX_IOU
    assert placed >= 2


def test_glyph_that_cannot_be_placed_raises():
    with pytest.raises(RuntimeError, match='could not place'):
        render_glyph_image(np.random.default_rng(0), img_size=32, min_objects=8, max_objects=8,
                           min_size=16, max_size=16)


def test_class_and_size_statistics(rendered):
    sides, labels, counts = [], collections.Counter(), []
    for pixels, glyphs in rendered:
        assert pixels.shape == (128, 128, 3) and pixels.dtype == np.uint8
        counts.append(len(glyphs))
        for label, (_, _, w, h) in glyphs:
            labels[label] += 1
            sides.append(max(w, h))
    assert set(labels) == set(range(len(GLYPH_CLASSES)))
    assert min(counts) >= 1 and max(counts) <= 6
    # the longer box side is the drawn size, less what the border or other glyphs hide
    assert 0.7 * 20 <= min(sides) and max(sides) <= 40 + 1
    assert np.median(sides) > 22


def test_rendered_boxes_inside_image_and_overlap_at_most_max_iou(rendered):
    for _, glyphs in rendered:
        boxes = [(int(x), int(y), int(x + w), int(y + h)) for _, (x, y, w, h) in glyphs]
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128
        for a, b in itertools.combinations(boxes, 2):
            assert mask_iou(a, b, size=128) <= MAX_IOU + 1e-9


def test_same_generator_state_gives_the_same_image():
    first = render_glyph_image(np.random.default_rng([5, 1, 2]))
    second = render_glyph_image(np.random.default_rng([5, 1, 2]))
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]
