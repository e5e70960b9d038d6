"""Drawing pixels: a background crop, glyph instances, distractor shapes and their compositing.

Canvases are float32 (size, size, 3) RGB, 0-1 (clipped when the image is quantised); coverage
maps are float32 (h, w) in [0, 1].
Every function draws from the ``numpy.random.Generator`` it is given, in a fixed order.
"""
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .sources import (
    BACKGROUND_NAMES,
    INK,
    background_pictures,
    crop_to_ink,
    digit_bitmap,
    digit_images,
    letter_bitmaps,
)

MAX_ROTATION = 25.0      # degrees, uniform in [-MAX_ROTATION, MAX_ROTATION]
MIN_CONTRAST = 0.4       # luminance gap between a glyph (or distractor) and its background

#: RGB -> luminance weights (ITU-R BT.601).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def draw_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop of a random picture, rescaled to (size, size, 3) float32 in [0, 1].

    The crop side is 0.6-3x the image size (capped by the picture); the result may be flipped,
    blurred, tinted, and always loses contrast so that glyphs stay readable.
    """
    picture = background_pictures()[rng.integers(len(BACKGROUND_NAMES))]
    side = min(size * math.exp(rng.uniform(math.log(0.6), math.log(3.0))), *picture.size)
    x0 = rng.uniform(0, picture.size[0] - side)
    y0 = rng.uniform(0, picture.size[1] - side)
    crop = picture.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 0.4:
        crop = crop.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0) * size / 128))
    rgb = np.asarray(crop, dtype=np.float32) / 255.0 * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    mean = float(rgb.mean())
    rgb = rng.uniform(0.15, 0.85) + rng.uniform(0.3, 0.75) * (rgb - mean)
    return np.clip(rgb, 0.0, 1.0)


def contrasting_colour(rng: np.random.Generator, luminance: float) -> np.ndarray:
    """A random RGB colour (3,) whose luminance differs from ``luminance`` by at least
    ``MIN_CONTRAST``: darker on light backgrounds, lighter on dark ones.

    The colour is scaled towards its target luminance, so single channels can leave [0, 1]
    (a saturated colour made much lighter or darker); the finished image is clipped to [0, 255].
    """
    colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    own = float(colour @ LUMA)
    if luminance > 0.5:
        target = rng.uniform(0.0, luminance - MIN_CONTRAST)
        return colour * (target / max(own, 1e-3))
    target = rng.uniform(luminance + MIN_CONTRAST, 1.0)
    return 1 - (1 - colour) * ((1 - target) / max(1 - own, 1e-3))


def composite(canvas: np.ndarray, y0: int, x0: int, alpha: np.ndarray,
              colour: np.ndarray) -> None:
    """Paint ``colour`` with (h, w) ``alpha`` onto ``canvas`` at (y0, x0), in place."""
    h, w = alpha.shape
    region = canvas[y0:y0 + h, x0:x0 + w]
    region += (colour - region) * alpha[..., None]


def draw_distractor(rng: np.random.Generator, canvas: np.ndarray, min_size: int,
                    max_size: int) -> None:
    """Paint one unlabelled shape onto ``canvas``: a thin scribble, a filled polygon (blob), a
    filled ellipse or a thin line segment, chosen not to read like a digit or a letter."""
    size = canvas.shape[0]
    mask = Image.new('L', (2 * size, 2 * size))  # drawn at 2x, then reduced: anti-aliasing
    draw = ImageDraw.Draw(mask)
    extent = 2 * rng.uniform(0.5 * min_size, 1.2 * max_size)
    cx, cy = rng.uniform(0, 2 * size, 2)
    width = max(2, round(2 * rng.uniform(0.5, 1.5) * size / 128))
    kind = rng.integers(4)
    if kind == 0:  # scribble: a smooth random walk of 16 steps
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.5, 16))
        steps = extent / 8 * np.stack([np.cos(heading), np.sin(heading)], 1)
        points = np.array([cx, cy]) + np.cumsum(steps, 0)
        draw.line([tuple(p) for p in points], fill=255, width=width, joint='curve')
    elif kind == 1:  # blob: a filled random polygon
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(5, 9)))
        radii = rng.uniform(0.2, 0.5, angles.size) * extent
        draw.polygon(list(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles))),
                     fill=255)
    elif kind == 2:  # filled, roundish ellipse (an outline reads as 0, a long one as 1)
        rx = rng.uniform(0.1, 0.4) * extent
        ry = rx * math.exp(rng.uniform(-0.4, 0.4))
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    else:  # long thin line segment
        angle = rng.uniform(0, np.pi)
        dx, dy = extent * np.cos(angle), extent * np.sin(angle)
        draw.line((cx - dx, cy - dy, cx + dx, cy + dy), fill=255, width=width)
    alpha = np.asarray(mask.reduce(2), dtype=np.float32) / 255.0
    drawn = alpha >= INK
    if drawn.any():
        composite(canvas, 0, 0, alpha * rng.uniform(0.6, 1.0),
                  contrasting_colour(rng, float(canvas[drawn].mean(0) @ LUMA)))


def glyph_coverage(rng: np.random.Generator, label: int, extent: float) -> np.ndarray:
    """One instance of class ``label``: a random sample (digit) or font (letter), rotated and
    scaled so that the longer side of its ink box is about ``extent`` px.

    Returns:
        float32 (h, w) coverage in [0, 1].
    """
    if label < 10:
        images, by_digit = digit_images()
        bitmap = digit_bitmap(images[rng.choice(by_digit[label])])
    else:
        fonts = letter_bitmaps()[label - 10]
        bitmap = fonts[rng.integers(len(fonts))]
    source = Image.fromarray(bitmap)
    if max(source.size) > 2 * extent:  # rotate at twice the final size: sharp enough, faster
        factor = 2 * extent / max(source.size)
        source = source.resize((max(2, round(source.size[0] * factor)),
                                max(2, round(source.size[1] * factor))), Image.BILINEAR)
    rotated = source.rotate(rng.uniform(-MAX_ROTATION, MAX_ROTATION), Image.BICUBIC, expand=True)
    tight = crop_to_ink(np.asarray(rotated))
    aspect = math.exp(rng.uniform(-0.15, 0.15))  # mild horizontal stretch or squeeze
    w, h = tight.shape[1] * aspect, tight.shape[0] / aspect
    scale = extent / max(w, h)
    resized = Image.fromarray(tight).resize((max(2, round(w * scale)), max(2, round(h * scale))),
                                            Image.BICUBIC)
    return np.asarray(resized, dtype=np.float32) / 255.0
