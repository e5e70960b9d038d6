"""The pictures the benchmark is drawn from, loaded once per process (no download).

Letters: every letter of ``LETTERS`` in 14 fonts that matplotlib ships. Digits: scikit-learn's
handwritten ``load_digits``. Backgrounds: photographs and textures bundled with scikit-image.
Bitmaps are uint8 coverage maps (255 = full ink) cropped to their visible ink.
"""
import functools
import os.path as osp
from typing import Tuple

import numpy as np
from PIL import Image

from .classes import LETTERS

# Font files in matplotlib's data directory (mpl-data/fonts/ttf).
FONT_FILES = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf',
              'DejaVuSansMono.ttf', 'DejaVuSerif.ttf', 'DejaVuSerif-Bold.ttf',
              'DejaVuSerif-Italic.ttf', 'STIXGeneral.ttf', 'STIXGeneralBol.ttf',
              'STIXGeneralItalic.ttf', 'cmr10.ttf', 'cmss10.ttf', 'cmtt10.ttf', 'cmb10.ttf')
BACKGROUND_NAMES = ('astronaut', 'camera', 'coffee', 'chelsea', 'rocket', 'coins', 'grass',
                    'gravel', 'brick', 'page', 'text', 'moon', 'horse', 'clock',
                    'hubble_deep_field', 'immunohistochemistry', 'retina', 'cat', 'colorwheel',
                    'logo')

RENDER_PX = 128          # longer side of a pre-rendered letter bitmap (px)
INK = 0.3                # coverage at which a pixel counts as visible ink (box edges)


def crop_to_ink(coverage: np.ndarray) -> np.ndarray:
    """Crop a uint8 (h, w) coverage bitmap to the box of its visible ink."""
    ink = coverage >= INK * 255
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return coverage[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


@functools.lru_cache(maxsize=1)
def letter_bitmaps() -> Tuple[Tuple[np.ndarray, ...], ...]:
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
            bitmaps.append(crop_to_ink(coverage))
        letters.append(tuple(bitmaps))
    return tuple(letters)


@functools.lru_cache(maxsize=1)
def digit_images() -> Tuple[np.ndarray, Tuple[np.ndarray, ...]]:
    """scikit-learn's handwritten digits.

    Returns:
        (1797, 8, 8) float32 ink in [0, 1] and, per digit 0-9, the indices of its samples.
    """
    from sklearn.datasets import load_digits  # imported here so that importing asl_det stays fast

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    return images, tuple(np.flatnonzero(digits.target == d) for d in range(10))


def digit_bitmap(ink: np.ndarray) -> np.ndarray:
    """Smoothly upsample one (8, 8) digit in [0, 1] to a uint8 coverage bitmap cropped to ink."""
    padded = Image.fromarray(np.pad(ink, 2), mode='F')
    up = np.asarray(padded.resize((12 * 4, 12 * 4), Image.BICUBIC)
                    .resize((12 * 10, 12 * 10), Image.BICUBIC))
    t = np.clip((up - 0.35) / 0.3, 0.0, 1.0)  # smoothstep: soft pixels -> strokes with clean edges
    return crop_to_ink((255 * t * t * (3 - 2 * t)).round().astype(np.uint8))


@functools.lru_cache(maxsize=1)
def background_pictures() -> Tuple[Image.Image, ...]:
    """The ``skimage.data`` pictures of ``BACKGROUND_NAMES`` as RGB images."""
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


def load_sources() -> None:
    """Build every cached picture now (before forking workers, so that they inherit them)."""
    background_pictures(), digit_images(), letter_bitmaps()
