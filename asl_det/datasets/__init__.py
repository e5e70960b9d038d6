from .glyph_dataset import GlyphDetectionDataset
from .glyph_detection import GLYPH_CLASSES, generate_glyph_detection, render_glyph_image

__all__ = ['GLYPH_CLASSES', 'GlyphDetectionDataset', 'generate_glyph_detection',
           'render_glyph_image']
