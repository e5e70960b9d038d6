"""mmdet datasets of the glyph benchmark: the registered ``GlyphDetectionDataset``.

Not imported by ``import asl_det``: configs that train on the glyph benchmark add
``'asl_det.datasets.glyph_dataset'`` to their ``custom_imports``.
"""
from .glyph_dataset import GlyphDetectionDataset

__all__ = ['GlyphDetectionDataset']
