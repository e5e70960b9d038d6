"""Drawing pixels (asl_det/benchmark/glyphs/rendering.py): colours, compositing, instances."""
import numpy as np
import pytest

from asl_det.benchmark.glyphs.rendering import (
    LUMA,
    MIN_CONTRAST,
    composite,
    contrasting_colour,
    draw_background,
    draw_distractor,
    glyph_coverage,
)
from asl_det.benchmark.glyphs.sources import INK


@pytest.mark.parametrize('luminance', [0.0, 0.2, 0.45, 0.55, 0.8, 1.0])
def test_contrasting_colour_differs_in_luminance_by_min_contrast(luminance):
    rng = np.random.default_rng(0)
    for _ in range(200):
        colour = contrasting_colour(rng, luminance)
        assert colour.shape == (3,)
        own = float(np.dot(colour, [0.299, 0.587, 0.114]))
        assert abs(own - luminance) >= MIN_CONTRAST - 1e-5


def test_composite_blends_by_alpha_in_place():
    canvas = np.full((4, 5, 3), 0.5, np.float32)
    alpha = np.array([[0.0, 1.0], [0.25, 0.5]], np.float32)
    colour = np.array([1.0, 0.0, 0.5], np.float32)
    expected = canvas.copy()
    expected[1:3, 2:4] = 0.5 * (1 - alpha[..., None]) + colour * alpha[..., None]
    composite(canvas, 1, 2, alpha, colour)
    np.testing.assert_allclose(canvas, expected, rtol=0, atol=1e-6)


def test_background_is_a_float_rgb_canvas():
    canvas = draw_background(np.random.default_rng(1), 96)
    assert canvas.shape == (96, 96, 3) and canvas.dtype == np.float32
    assert 0 <= canvas.min() and canvas.max() <= 1 and canvas.std() > 0


def test_distractors_contrast_with_where_they_are_drawn():
    rng = np.random.default_rng(2)
    changed = 0
    for _ in range(20):
        canvas = np.full((64, 64, 3), 0.8, np.float32)
        draw_distractor(rng, canvas, 16, 40)
        painted = np.abs(canvas - 0.8).max(2) > 1e-6
        changed += bool(painted.any())
        if painted.any():  # light background: the shape is darker
            assert float((canvas[painted] @ LUMA).min()) < 0.8 - 0.5 * MIN_CONTRAST
    assert changed >= 15


@pytest.mark.parametrize('label', [0, 7, 10, 30])
def test_glyph_coverage_longer_side_is_the_extent(label):
    rng = np.random.default_rng(label)
    for extent in (16.0, 23.5, 56.0):
        coverage = glyph_coverage(rng, label, extent)
        assert coverage.dtype == np.float32 and 0 <= coverage.min() and coverage.max() <= 1
        assert abs(max(coverage.shape) - extent) <= 1
        assert (coverage >= INK).any()
