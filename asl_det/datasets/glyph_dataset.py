"""``GlyphDetectionDataset``: mmdet's CocoDataset with the glyph benchmark's class list."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from asl_det.benchmark.glyphs import GLYPH_CLASSES


def _palette(num_classes: int):
    """Distinct RGB colours, one per class (golden-angle hues)."""
    import colorsys
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618) % 1.0, 0.8, 0.95))
            for i in range(num_classes)]


@DATASETS.register_module()
class GlyphDetectionDataset(CocoDataset):
    """COCO-format glyph benchmark written by
    :func:`asl_det.benchmark.glyphs.generate_glyph_detection`."""

    METAINFO = dict(classes=GLYPH_CLASSES, palette=_palette(len(GLYPH_CLASSES)))
