"""Layout of one benchmark image: glyph sizes and positions that keep every glyph readable.

A glyph is placed only if each glyph keeps ``MIN_VISIBLE`` of its ink (later glyphs paint over
earlier ones; the image border may cut off up to ``MAX_OUTSIDE`` of it) and no two labelled
boxes overlap by more than ``MAX_IOU``. Boxes are tight around the ink that stays visible.
Boxes here are (x0, y0, x1, y1) integer pixels, x1 and y1 exclusive.
"""
import math
from typing import List, Tuple

import numpy as np

from .classes import GLYPH_CLASSES
from .rendering import (
    LUMA,
    composite,
    contrasting_colour,
    draw_background,
    draw_distractor,
    glyph_coverage,
)
from .sources import INK

MAX_IOU = 0.3            # between any two labelled boxes of an image
MIN_VISIBLE = 0.8        # fraction of a glyph's ink that must stay visible (occlusion, border)
MAX_OUTSIDE = 0.1        # fraction of a glyph's extent that may fall outside the image
MAX_DISTRACTORS = 4      # unlabelled shapes per image, uniform in [0, MAX_DISTRACTORS]
PLACEMENT_TRIES = 40     # positions tried per glyph size before the size shrinks


def ink_box(coverage: np.ndarray) -> Tuple[int, int, int, int, int]:
    """(x0, y0, x1, y1) exclusive pixel box and pixel count of the ink of a float (h, w) map;
    all zeros when nothing reaches ``INK``."""
    ink = coverage >= INK
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        return 0, 0, 0, 0, 0
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1, int(ink.sum())


def box_iou(a: Tuple[int, ...], b: Tuple[int, ...]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class PlacedGlyph:
    """A placed glyph: its label, its image position and its still visible coverage."""

    def __init__(self, label: int, y0: int, x0: int, visible: np.ndarray, full_ink: int):
        self.label, self.y0, self.x0, self.visible, self.full_ink = label, y0, x0, visible, full_ink
        self.box = self.shifted_box(visible)

    def shifted_box(self, visible: np.ndarray) -> Tuple[int, int, int, int, int]:
        """Ink box of ``visible`` in image coordinates and its ink pixel count."""
        x0, y0, x1, y1, count = ink_box(visible)
        return x0 + self.x0, y0 + self.y0, x1 + self.x0, y1 + self.y0, count


def try_place(rng: np.random.Generator, canvas: np.ndarray, glyphs: List[PlacedGlyph],
              label: int, coverage: np.ndarray) -> bool:
    """Paint ``coverage`` at a random position if every glyph keeps ``MIN_VISIBLE`` of its ink
    and no two boxes overlap by more than ``MAX_IOU``; returns whether it was placed.

    On success ``canvas`` is painted, the hidden parts of ``glyphs`` are updated and the new
    glyph is appended; on failure nothing changes.
    """
    size = canvas.shape[0]
    h, w = coverage.shape
    if h > size or w > size:
        return False
    gy0 = int(rng.integers(-int(MAX_OUTSIDE * h), size - h + int(MAX_OUTSIDE * h) + 1))
    gx0 = int(rng.integers(-int(MAX_OUTSIDE * w), size - w + int(MAX_OUTSIDE * w) + 1))
    y0, x0 = max(gy0, 0), max(gx0, 0)
    clipped = coverage[y0 - gy0:min(h, size - gy0), x0 - gx0:min(w, size - gx0)]
    alpha = clipped * rng.uniform(0.85, 1.0)
    new = PlacedGlyph(label, y0, x0, clipped, int((coverage >= INK).sum()))
    if new.box[4] < MIN_VISIBLE * new.full_ink or new.box[2] - new.box[0] < 2 or \
            new.box[3] - new.box[1] < 2:
        return False
    updates = []
    for glyph in glyphs:  # what the new glyph hides of the older ones
        gh, gw = glyph.visible.shape
        oy0, ox0 = max(y0, glyph.y0), max(x0, glyph.x0)
        oy1 = min(y0 + alpha.shape[0], glyph.y0 + gh)
        ox1 = min(x0 + alpha.shape[1], glyph.x0 + gw)
        if oy0 >= oy1 or ox0 >= ox1:
            updates.append((glyph.visible, glyph.box))
            continue
        visible = glyph.visible.copy()
        visible[oy0 - glyph.y0:oy1 - glyph.y0, ox0 - glyph.x0:ox1 - glyph.x0] *= \
            1 - alpha[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0]
        box = glyph.shifted_box(visible)
        if box[4] < MIN_VISIBLE * glyph.full_ink:
            return False
        updates.append((visible, box))
    boxes = [box for _, box in updates] + [new.box]
    if any(box_iou(a, b) > MAX_IOU for i, a in enumerate(boxes) for b in boxes[i + 1:]):
        return False
    for glyph, (visible, box) in zip(glyphs, updates):
        glyph.visible, glyph.box = visible, box
    ink = clipped >= INK
    region = canvas[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]]
    composite(canvas, y0, x0, alpha, contrasting_colour(rng, float(region[ink].mean(0) @ LUMA)))
    glyphs.append(new)
    return True


def render_glyph_image(rng: np.random.Generator, img_size: int = 128, min_objects: int = 1,
                       max_objects: int = 8, min_size: int = 16,
                       max_size: int = 56) -> Tuple[np.ndarray, List[Tuple[int, List[float]]]]:
    """Draw one image of the benchmark.

    Object sizes (longer side of the ink box, px) are log-uniform in [min_size, max_size];
    larger glyphs are placed first, and a glyph that does not fit after ``PLACEMENT_TRIES``
    positions is redrawn 20% smaller (down to ``min_size``).

    Returns:
        (img_size, img_size, 3) uint8 RGB image and, per glyph, its class index in
        ``GLYPH_CLASSES`` and its COCO box [x, y, w, h] in px (tight around the visible ink).
    """
    canvas = draw_background(rng, img_size)
    for _ in range(rng.integers(0, MAX_DISTRACTORS + 1)):
        draw_distractor(rng, canvas, min_size, max_size)
    count = int(rng.integers(min_objects, max_objects + 1))
    extents = np.sort(np.exp(rng.uniform(math.log(min_size), math.log(max_size), count)))[::-1]
    glyphs: List[PlacedGlyph] = []
    for extent in extents:
        label = int(rng.integers(len(GLYPH_CLASSES)))
        while True:
            coverage = glyph_coverage(rng, label, extent)
            if any(try_place(rng, canvas, glyphs, label, coverage)
                   for _ in range(PLACEMENT_TRIES)):
                break
            if extent <= min_size:
                raise RuntimeError(
                    f'could not place {count} glyphs of at least {min_size} px on a {img_size} '
                    'px image; lower max_objects or min_size')
            extent = max(min_size, 0.8 * extent)
    noise = rng.uniform(0, 4) * rng.standard_normal(canvas.shape, dtype=np.float32)
    image = (canvas * 255 + noise).round()
    annotations = [(g.label, [float(g.box[0]), float(g.box[1]), float(g.box[2] - g.box[0]),
                              float(g.box[3] - g.box[1])]) for g in glyphs]
    return np.clip(image, 0, 255).astype(np.uint8), annotations
