"""The class list of the glyph benchmark (asl_det/benchmark/glyphs/classes.py)."""
from asl_det.benchmark.glyphs import GLYPH_CLASSES
from asl_det.datasets import GlyphDetectionDataset


def test_classes_are_ten_digits_then_unambiguous_letters():
    assert len(GLYPH_CLASSES) >= 30
    assert len(set(GLYPH_CLASSES)) == len(GLYPH_CLASSES)
    assert GLYPH_CLASSES[:10] == tuple(f'digit_{d}' for d in range(10))
    assert all(name.startswith('letter_') for name in GLYPH_CLASSES[10:])
    assert not {'letter_O', 'letter_I'} & set(GLYPH_CLASSES)


def test_registered_dataset_uses_the_same_class_list():
    assert GlyphDetectionDataset.METAINFO['classes'] is GLYPH_CLASSES
