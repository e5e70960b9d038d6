"""mmdet datasets of the plugin: the registered ``GlyphDetectionDataset``."""
from .glyph_dataset import GlyphDetectionDataset

__all__ = ['GlyphDetectionDataset']
