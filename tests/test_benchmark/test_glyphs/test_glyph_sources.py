"""The pictures the benchmark is drawn from (asl_det/benchmark/glyphs/sources.py)."""
import numpy as np

from asl_det.benchmark.glyphs.classes import LETTERS
from asl_det.benchmark.glyphs.sources import (
    BACKGROUND_NAMES,
    FONT_FILES,
    INK,
    RENDER_PX,
    background_pictures,
    crop_to_ink,
    digit_bitmap,
    digit_images,
    letter_bitmaps,
)


def test_crop_to_ink_keeps_exactly_the_ink_box():
    coverage = np.zeros((10, 12), np.uint8)
    coverage[3, 4] = coverage[6, 9] = 255
    coverage[1, 1] = int(INK * 255) - 1  # faint: not ink
    cropped = crop_to_ink(coverage)
    np.testing.assert_array_equal(cropped, coverage[3:7, 4:10])


def test_letters_in_every_font_fill_the_render_size():
    letters = letter_bitmaps()
    assert len(letters) == len(LETTERS)
    for fonts in letters:
        assert len(fonts) == len(FONT_FILES)
        for bitmap in fonts:
            assert bitmap.dtype == np.uint8 and bitmap.max() == 255
            assert RENDER_PX - 2 <= max(bitmap.shape) <= RENDER_PX + 2


def test_digits_are_the_ten_sklearn_classes_upsampled():
    images, by_digit = digit_images()
    assert images.shape[1:] == (8, 8) and 0 <= images.min() and images.max() <= 1
    assert len(by_digit) == 10 and sum(len(i) for i in by_digit) == len(images)
    bitmap = digit_bitmap(images[by_digit[3][0]])
    assert bitmap.dtype == np.uint8 and bitmap.max() == 255
    assert crop_to_ink(bitmap).shape == bitmap.shape  # already cropped


def test_backgrounds_are_rgb_pictures():
    pictures = background_pictures()
    assert len(pictures) == len(BACKGROUND_NAMES)
    assert all(p.mode == 'RGB' and min(p.size) >= 128 for p in pictures)
