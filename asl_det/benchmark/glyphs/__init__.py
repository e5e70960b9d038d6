"""The built-in detection benchmark: digits and letters on photographs, as a COCO data set.

Each image is a random crop of a ``skimage.data`` photograph or texture (rescaled, possibly
blurred, contrast-reduced) with 1 to 8 labelled glyphs: real handwritten digits from
scikit-learn's ``load_digits`` and uppercase letters in fonts that matplotlib ships. Glyphs are
scaled, rotated, coloured against their local background and may overlap a little; unlabelled
strokes, blobs, ellipses and segments act as distractors. With 31 classes and a few objects per
image, positives are rare among the (anchor, class) pairs, as in COCO.

Modules: ``classes`` (the class list), ``sources`` (fonts, digits, background pictures),
``rendering`` (pixels), ``layout`` (where glyphs go in one image), ``writing`` (COCO files,
manifest, cache). Train splits with a share of the boxes removed, for any COCO data set:
:mod:`asl_det.benchmark.study.missing_annotations`.
"""
from .classes import GLYPH_CLASSES
from .layout import render_glyph_image
from .writing import generate_glyph_detection

__all__ = ['GLYPH_CLASSES', 'generate_glyph_detection', 'render_glyph_image']
