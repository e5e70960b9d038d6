"""Built-in detection benchmark: digits and letters on photographs, written as a COCO data set.

Each image is a random crop of a ``skimage.data`` photograph or texture (rescaled, possibly
blurred, contrast-reduced) with 1 to 8 labelled glyphs: real handwritten digits from
scikit-learn's ``load_digits`` and uppercase letters in fonts that matplotlib ships. Glyphs are
scaled, rotated, coloured against their local background and may overlap a little; unlabelled
strokes, blobs, ellipses and segments act as distractors. With 31 classes and a few objects per
image, positives are rare among the (anchor, class) pairs, as in COCO.

Output layout (``mmdet.datasets.CocoDataset`` and pycocotools read it)::

    <out>/train/000000.png ...        <out>/annotations/instances_train.json
    <out>/val/000000.png ...          <out>/annotations/instances_val.json
    <out>/manifest.json               generator version, parameters and counts (the cache key)

Everything is drawn from ``numpy.random.default_rng`` streams seeded by ``(seed, split, index)``
so an image does not depend on the order of generation, and the same arguments give
byte-identical files.
"""
import functools
import json
import math
import multiprocessing
import os
import os.path as osp
import re
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

GENERATOR_VERSION = '1.0'

DIGIT_NAMES = tuple(f'digit_{d}' for d in range(10))
# O, I, S, Z and B are left out: they read like 0, 1, 5, 2 and 8.
LETTERS = 'ACDEFGHJKLMNPQRTUVWXY'
GLYPH_CLASSES = DIGIT_NAMES + tuple(f'letter_{c}' for c in LETTERS)

# Font files in matplotlib's data directory (mpl-data/fonts/ttf).
FONT_FILES = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf',
              'DejaVuSansMono.ttf', 'DejaVuSerif.ttf', 'DejaVuSerif-Bold.ttf',
              'DejaVuSerif-Italic.ttf', 'STIXGeneral.ttf', 'STIXGeneralBol.ttf',
              'STIXGeneralItalic.ttf', 'cmr10.ttf', 'cmss10.ttf', 'cmtt10.ttf', 'cmb10.ttf')
BACKGROUND_NAMES = ('astronaut', 'camera', 'coffee', 'chelsea', 'rocket', 'coins', 'grass',
                    'gravel', 'brick', 'page', 'text', 'moon', 'horse', 'clock',
                    'hubble_deep_field', 'immunohistochemistry', 'retina', 'cat', 'colorwheel',
                    'logo')

RENDER_PX = 128          # longer side of a pre-rendered glyph bitmap (px)
INK = 0.3                # coverage at which a pixel counts as visible ink (box edges)
MAX_ROTATION = 25.0      # degrees, uniform in [-MAX_ROTATION, MAX_ROTATION]
MAX_IOU = 0.3            # between any two labelled boxes of an image
MIN_VISIBLE = 0.8        # fraction of a glyph's ink that must stay visible (occlusion, border)
MAX_OUTSIDE = 0.1        # fraction of a glyph's extent that may fall outside the image
MIN_CONTRAST = 0.4       # luminance gap between a glyph (or distractor) and its background
MAX_DISTRACTORS = 4      # unlabelled shapes per image, uniform in [0, MAX_DISTRACTORS]
PLACEMENT_TRIES = 40     # positions tried per glyph size before the size shrinks

_SPLITS = ('train', 'val')
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_IMAGE_NAME = re.compile(r'\d{6}\.png')


@functools.lru_cache(maxsize=1)
def _letter_bitmaps() -> Tuple[Tuple[np.ndarray, ...], ...]:
    """Every letter in every font, rendered once with matplotlib's Agg rasteriser.

    Returns:
        per letter of ``LETTERS``, one uint8 coverage bitmap (h, w) per font, cropped to its
        ink, longer side ``RENDER_PX`` px.
    """
    import matplotlib  # imported here so that importing asl_det stays fast
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    font_dir = osp.join(matplotlib.get_data_path(), 'fonts', 'ttf')
    side, pad = RENDER_PX + 8, 4
    letters = []
    for char in LETTERS:
        bitmaps = []
        for font in FONT_FILES:
            path = TextPath((0, 0), char, size=100, prop=FontProperties(fname=osp.join(font_dir,
                                                                                       font)))
            ext = path.get_extents()
            scale = RENDER_PX / max(ext.width, ext.height)
            to_canvas = Affine2D().translate(-ext.x0, -ext.y0).scale(scale).translate(pad, pad)
            renderer = RendererAgg(side, side, 72)
            gc = renderer.new_gc()
            gc.set_linewidth(0)
            renderer.draw_path(gc, path, to_canvas, rgbFace=(0, 0, 0))
            coverage = np.asarray(renderer.buffer_rgba())[..., 3]
            bitmaps.append(_crop_to_ink(coverage))
        letters.append(tuple(bitmaps))
    return tuple(letters)


@functools.lru_cache(maxsize=1)
def _digit_images() -> Tuple[np.ndarray, Tuple[np.ndarray, ...]]:
    """scikit-learn's handwritten digits.

    Returns:
        (1797, 8, 8) float32 ink in [0, 1] and, per digit 0-9, the indices of its samples.
    """
    from sklearn.datasets import load_digits  # imported here so that importing asl_det stays fast

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    return images, tuple(np.flatnonzero(digits.target == d) for d in range(10))


def _digit_bitmap(ink: np.ndarray) -> np.ndarray:
    """Smoothly upsample one (8, 8) digit in [0, 1] to a uint8 coverage bitmap cropped to ink."""
    padded = Image.fromarray(np.pad(ink, 2), mode='F')
    up = np.asarray(padded.resize((12 * 4, 12 * 4), Image.BICUBIC)
                    .resize((12 * 10, 12 * 10), Image.BICUBIC))
    t = np.clip((up - 0.35) / 0.3, 0.0, 1.0)  # smoothstep: soft pixels -> strokes with clean edges
    return _crop_to_ink((255 * t * t * (3 - 2 * t)).round().astype(np.uint8))


@functools.lru_cache(maxsize=1)
def _backgrounds() -> Tuple[Image.Image, ...]:
    """The ``skimage.data`` pictures (bundled with scikit-image, no download) as RGB images."""
    from skimage import data  # imported here so that importing asl_det stays fast

    pictures = []
    for name in BACKGROUND_NAMES:
        array = getattr(data, name)()
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.shape[2] == 4:  # composite RGBA on white
            alpha = array[..., 3:] / 255.0
            array = (array[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
        pictures.append(Image.fromarray(np.ascontiguousarray(array), mode='RGB'))
    return tuple(pictures)


def _crop_to_ink(coverage: np.ndarray) -> np.ndarray:
    """Crop a uint8 (h, w) coverage bitmap to the box of its visible ink."""
    ink = coverage >= INK * 255
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return coverage[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _ink_box(coverage: np.ndarray) -> Tuple[int, int, int, int, int]:
    """(x0, y0, x1, y1) exclusive pixel box and pixel count of the ink of a float (h, w) map."""
    ink = coverage >= INK
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        return 0, 0, 0, 0, 0
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1, int(ink.sum())


def _iou(a: Tuple[int, ...], b: Tuple[int, ...]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop of a random picture, rescaled to (size, size, 3) float32 in [0, 1].

    The crop side is 0.6-3x the image size (capped by the picture); the result may be flipped,
    blurred, tinted, and always loses contrast so that glyphs stay readable.
    """
    picture = _backgrounds()[rng.integers(len(BACKGROUND_NAMES))]
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


def _contrasting_colour(rng: np.random.Generator, luminance: float) -> np.ndarray:
    """A random RGB colour (3,) in [0, 1] whose luminance differs from ``luminance`` by at least
    ``MIN_CONTRAST``: darker on light backgrounds, lighter on dark ones."""
    colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    own = float(colour @ _LUMA)
    if luminance > 0.5:
        target = rng.uniform(0.0, luminance - MIN_CONTRAST)
        return colour * (target / max(own, 1e-3))
    target = rng.uniform(luminance + MIN_CONTRAST, 1.0)
    return 1 - (1 - colour) * ((1 - target) / max(1 - own, 1e-3))


def _composite(canvas: np.ndarray, y0: int, x0: int, alpha: np.ndarray,
               colour: np.ndarray) -> None:
    """Paint ``colour`` with (h, w) ``alpha`` onto ``canvas`` at (y0, x0), in place."""
    h, w = alpha.shape
    region = canvas[y0:y0 + h, x0:x0 + w]
    region += (colour - region) * alpha[..., None]


def _draw_distractor(rng: np.random.Generator, canvas: np.ndarray, min_size: int,
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
        _composite(canvas, 0, 0, alpha * rng.uniform(0.6, 1.0),
                   _contrasting_colour(rng, float(canvas[drawn].mean(0) @ _LUMA)))


def _glyph_coverage(rng: np.random.Generator, label: int, extent: float) -> np.ndarray:
    """One instance of class ``label``: a random sample (digit) or font (letter), rotated and
    scaled so that the longer side of its ink box is about ``extent`` px.

    Returns:
        float32 (h, w) coverage in [0, 1].
    """
    if label < 10:
        images, by_digit = _digit_images()
        bitmap = _digit_bitmap(images[rng.choice(by_digit[label])])
    else:
        fonts = _letter_bitmaps()[label - 10]
        bitmap = fonts[rng.integers(len(fonts))]
    source = Image.fromarray(bitmap)
    if max(source.size) > 2 * extent:  # rotate at twice the final size: sharp enough, faster
        factor = 2 * extent / max(source.size)
        source = source.resize((max(2, round(source.size[0] * factor)),
                                max(2, round(source.size[1] * factor))), Image.BILINEAR)
    rotated = source.rotate(rng.uniform(-MAX_ROTATION, MAX_ROTATION), Image.BICUBIC, expand=True)
    tight = _crop_to_ink(np.asarray(rotated))
    aspect = math.exp(rng.uniform(-0.15, 0.15))  # mild horizontal stretch or squeeze
    w, h = tight.shape[1] * aspect, tight.shape[0] / aspect
    scale = extent / max(w, h)
    resized = Image.fromarray(tight).resize((max(2, round(w * scale)), max(2, round(h * scale))),
                                            Image.BICUBIC)
    return np.asarray(resized, dtype=np.float32) / 255.0


class _Glyph:
    """A placed glyph: its label, its image position and its still visible coverage."""

    def __init__(self, label: int, y0: int, x0: int, visible: np.ndarray, full_ink: int):
        self.label, self.y0, self.x0, self.visible, self.full_ink = label, y0, x0, visible, full_ink
        self.box = self.shifted_box(visible)

    def shifted_box(self, visible: np.ndarray) -> Tuple[int, int, int, int, int]:
        """Ink box of ``visible`` in image coordinates and its ink pixel count."""
        x0, y0, x1, y1, count = _ink_box(visible)
        return x0 + self.x0, y0 + self.y0, x1 + self.x0, y1 + self.y0, count


def _try_place(rng: np.random.Generator, canvas: np.ndarray, glyphs: List[_Glyph], label: int,
               coverage: np.ndarray) -> bool:
    """Paint ``coverage`` at a random position if every glyph keeps ``MIN_VISIBLE`` of its ink
    and no two boxes overlap by more than ``MAX_IOU``; returns whether it was placed."""
    size = canvas.shape[0]
    h, w = coverage.shape
    if h > size or w > size:
        return False
    gy0 = int(rng.integers(-int(MAX_OUTSIDE * h), size - h + int(MAX_OUTSIDE * h) + 1))
    gx0 = int(rng.integers(-int(MAX_OUTSIDE * w), size - w + int(MAX_OUTSIDE * w) + 1))
    y0, x0 = max(gy0, 0), max(gx0, 0)
    clipped = coverage[y0 - gy0:min(h, size - gy0), x0 - gx0:min(w, size - gx0)]
    alpha = clipped * rng.uniform(0.85, 1.0)
    new = _Glyph(label, y0, x0, clipped, int((coverage >= INK).sum()))
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
    if any(_iou(a, b) > MAX_IOU for i, a in enumerate(boxes) for b in boxes[i + 1:]):
        return False
    for glyph, (visible, box) in zip(glyphs, updates):
        glyph.visible, glyph.box = visible, box
    ink = clipped >= INK
    region = canvas[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]]
    _composite(canvas, y0, x0, alpha, _contrasting_colour(rng, float(region[ink].mean(0) @ _LUMA)))
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
    canvas = _background(rng, img_size)
    for _ in range(rng.integers(0, MAX_DISTRACTORS + 1)):
        _draw_distractor(rng, canvas, min_size, max_size)
    count = int(rng.integers(min_objects, max_objects + 1))
    extents = np.sort(np.exp(rng.uniform(math.log(min_size), math.log(max_size), count)))[::-1]
    glyphs: List[_Glyph] = []
    for extent in extents:
        label = int(rng.integers(len(GLYPH_CLASSES)))
        while True:
            coverage = _glyph_coverage(rng, label, extent)
            if any(_try_place(rng, canvas, glyphs, label, coverage)
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


def _check_int(name: str, value, low: int, high: int) -> int:
    """``value`` as an int in [low, high], else a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'{name} must be an int in [{low}, {high}], got {value!r}')
    if not low <= value <= high:
        raise ValueError(f'{name} must be in [{low}, {high}], got {value}')
    return int(value)


def _check_params(num_train, num_val, img_size, min_objects, max_objects, min_size, max_size,
                  missing_label_fraction, seed) -> Dict:
    """Validated generation parameters, as stored in the manifest."""
    img_size = _check_int('img_size', img_size, 32, 4096)
    max_size = _check_int('max_size', max_size, 8, img_size)
    min_size = _check_int('min_size', min_size, 8, max_size)
    capacity = max(1, (img_size // min_size) ** 2 // 4)
    max_objects = _check_int('max_objects', max_objects, 1, min(64, capacity))
    if isinstance(missing_label_fraction, bool) or not isinstance(
            missing_label_fraction, (int, float, np.integer, np.floating)):
        raise TypeError(f'missing_label_fraction must be a float in [0, 1), got '
                        f'{missing_label_fraction!r}')
    if not 0.0 <= missing_label_fraction < 1.0:
        raise ValueError(f'missing_label_fraction must be in [0, 1), got {missing_label_fraction}')
    return dict(
        num_train=_check_int('num_train', num_train, 1, 1_000_000),
        num_val=_check_int('num_val', num_val, 1, 1_000_000),
        img_size=img_size,
        min_objects=_check_int('min_objects', min_objects, 1, max_objects),
        max_objects=max_objects,
        min_size=min_size,
        max_size=max_size,
        missing_label_fraction=float(missing_label_fraction),
        seed=_check_int('seed', seed, 0, 2**63 - 1))


def _coco(split: str, images: List[Dict], annotations: List[Dict]) -> Dict:
    """A COCO instances dict with the ``GLYPH_CLASSES`` categories (ids 1..K)."""
    categories = [dict(id=i + 1, name=name, supercategory=name.split('_')[0])
                  for i, name in enumerate(GLYPH_CLASSES)]
    return dict(info=dict(description=f'asl_det glyph detection benchmark, {split} split',
                          version=GENERATOR_VERSION),
                licenses=[], images=images, annotations=annotations, categories=categories)


def _render_and_save(root: str, split: str, params: Dict,
                     indices: range) -> List[List[Tuple[int, List[float]]]]:
    """Draw the images ``indices`` of ``split``, save them as PNG and return their glyphs."""
    glyphs = []
    for index in indices:
        rng = np.random.default_rng([params['seed'], _SPLITS.index(split), index])
        pixels, image_glyphs = render_glyph_image(
            rng, params['img_size'], params['min_objects'], params['max_objects'],
            params['min_size'], params['max_size'])
        Image.fromarray(pixels).save(osp.join(root, split, f'{index:06d}.png'), format='PNG',
                                     compress_level=1)
        glyphs.append(image_glyphs)
    return glyphs


def _write_split(root: str, split: str, params: Dict,
                 num_workers: int) -> Tuple[List[Dict], List[Dict]]:
    """Draw and save the PNGs of one split, in ``num_workers`` processes.

    Returns:
        COCO ``images`` and ``annotations`` (ids from 1, every glyph labelled), identical for
        any ``num_workers``.
    """
    num, size = params[f'num_{split}'], params['img_size']
    os.makedirs(osp.join(root, split), exist_ok=True)
    if num_workers == 1:
        per_image = _render_and_save(root, split, params, range(num))
    else:
        _backgrounds(), _digit_images(), _letter_bitmaps()  # built once, inherited by forks
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context('fork' if 'fork' in methods else None)
        chunks = [range(start, min(start + 50, num)) for start in range(0, num, 50)]
        with ProcessPoolExecutor(num_workers, mp_context=context) as pool:
            per_image = [glyphs for chunk in pool.map(
                functools.partial(_render_and_save, root, split, params), chunks)
                for glyphs in chunk]
    images, annotations = [], []
    for index, glyphs in enumerate(per_image):
        images.append(dict(id=index + 1, file_name=f'{index:06d}.png', width=size,
                           height=size))
        for label, bbox in glyphs:
            annotations.append(dict(id=len(annotations) + 1, image_id=index + 1,
                                    category_id=label + 1, bbox=bbox, area=bbox[2] * bbox[3],
                                    iscrowd=0))
    return images, annotations


def _drop_labels(annotations: List[Dict], fraction: float, seed: int) -> List[Dict]:
    """Remove ``round(fraction * len(annotations))`` annotations chosen from ``seed``; the kept
    ones are renumbered from 1. Dropped sets are nested: a larger fraction drops a superset."""
    # (seed, 2): a stream apart from the per-image (seed, split, index) ones
    order = np.random.default_rng([seed, len(_SPLITS)]).permutation(len(annotations))
    dropped = set(order[:round(fraction * len(annotations))].tolist())
    kept = [dict(ann) for i, ann in enumerate(annotations) if i not in dropped]
    for new_id, ann in enumerate(kept, 1):
        ann['id'] = new_id
    return kept


def _paths(root: str) -> Dict[str, str]:
    """Where the files of a data set rooted at ``root`` live (``*_ann_file`` relative to root)."""
    paths = dict(root=root, manifest_file=osp.join(root, 'manifest.json'))
    for split in _SPLITS:
        paths[f'{split}_img_dir'] = osp.join(root, split)
        paths[f'{split}_img_prefix'] = f'{split}/'
        paths[f'{split}_ann_file'] = f'annotations/instances_{split}.json'
        paths[f'{split}_ann'] = osp.join(root, paths[f'{split}_ann_file'])
    return paths


def _is_complete(paths: Dict[str, str], manifest: Dict) -> bool:
    """Whether every file that ``manifest`` describes is on disk."""
    for split in _SPLITS:
        if not osp.isfile(paths[f'{split}_ann']) or not osp.isdir(paths[f'{split}_img_dir']):
            return False
        names = [n for n in os.listdir(paths[f'{split}_img_dir']) if _IMAGE_NAME.fullmatch(n)]
        if len(names) != manifest['splits'][split]['images']:
            return False
    return True


def _clean(paths: Dict[str, str]) -> None:
    """Delete the files a previous generation wrote (and nothing else), manifest first."""
    if osp.isfile(paths['manifest_file']):
        os.remove(paths['manifest_file'])
    for split in _SPLITS:
        if osp.isfile(paths[f'{split}_ann']):
            os.remove(paths[f'{split}_ann'])
        if osp.isdir(paths[f'{split}_img_dir']):
            for name in os.listdir(paths[f'{split}_img_dir']):
                if _IMAGE_NAME.fullmatch(name):
                    os.remove(osp.join(paths[f'{split}_img_dir'], name))


def generate_glyph_detection(out_dir, num_train: int = 2000, num_val: int = 500,
                             img_size: int = 128, min_objects: int = 1, max_objects: int = 8,
                             min_size: int = 16, max_size: int = 56,
                             missing_label_fraction: float = 0.0, seed: int = 0,
                             force: bool = False, num_workers: int = 1) -> Dict:
    """Write (or reuse) the glyph detection benchmark under ``out_dir``.

    Args:
        out_dir: directory (str or path-like) for ``train/``, ``val/``, ``annotations/`` and
            ``manifest.json``; created if missing. Only files of this layout are ever deleted.
        num_train, num_val: number of images per split, >= 1.
        img_size: side of the square RGB images (px).
        min_objects, max_objects: labelled glyphs per image, uniform in this range.
        min_size, max_size: longer side of a glyph's box (px), log-uniform in this range.
        missing_label_fraction: fraction of TRAIN annotations removed from the json (the glyphs
            stay in the images), in [0, 1); val keeps every label.
        seed: non-negative int; the same arguments give byte-identical files.
        force: regenerate even if ``manifest.json`` matches the arguments.
        num_workers: processes that draw images (forked where the OS allows); the files do not
            depend on it.

    Returns:
        dict with ``root``, ``manifest_file``, per split ``<split>_img_dir`` (absolute),
        ``<split>_img_prefix`` (e.g. ``'train/'``, mmdet's ``data_prefix``), ``<split>_ann``
        (absolute) and ``<split>_ann_file`` (relative to root, mmdet's ``ann_file``), the
        ``manifest`` dict and ``reused`` (True when the files on disk were kept).
    """
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f'out_dir must be a str or os.PathLike, got {out_dir!r}')
    if not isinstance(force, bool):
        raise TypeError(f'force must be a bool, got {force!r}')
    num_workers = _check_int('num_workers', num_workers, 1, 64)
    params = _check_params(num_train, num_val, img_size, min_objects, max_objects, min_size,
                           max_size, missing_label_fraction, seed)
    paths = _paths(osp.abspath(os.fspath(out_dir)))
    if not force and osp.isfile(paths['manifest_file']):
        with open(paths['manifest_file']) as f:
            manifest = json.load(f)
        if manifest.get('version') == GENERATOR_VERSION and manifest.get('params') == params \
                and _is_complete(paths, manifest):
            return dict(paths, manifest=manifest, reused=True)
    _clean(paths)
    os.makedirs(osp.join(paths['root'], 'annotations'), exist_ok=True)
    counts = {}
    for split in _SPLITS:
        images, annotations = _write_split(paths['root'], split, params, num_workers)
        kept = annotations
        if split == 'train' and params['missing_label_fraction'] > 0:
            kept = _drop_labels(annotations, params['missing_label_fraction'], params['seed'])
        with open(paths[f'{split}_ann'], 'w') as f:
            json.dump(_coco(split, images, kept), f, separators=(',', ':'))
        counts[split] = dict(images=len(images), annotations=len(kept),
                             dropped_annotations=len(annotations) - len(kept))
    manifest = dict(generator='asl_det.datasets.glyph_detection', version=GENERATOR_VERSION,
                    params=params, classes=list(GLYPH_CLASSES), splits=counts)
    with open(paths['manifest_file'], 'w') as f:
        json.dump(manifest, f, indent=2)
    return dict(paths, manifest=manifest, reused=False)
