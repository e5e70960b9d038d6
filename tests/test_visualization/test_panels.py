"""Panels: mmdet's visualizer draws the boxes, dropped boxes come dashed in black, images are
resized with their boxes (small ones enlarged), captions wrap, pages pad rows of different
sizes; images are decoded for drawing as the test pipeline decodes them."""
import cv2
import numpy as np
import pytest
from PIL import Image

from asl_det.inference.labelled_images import Detections
from asl_det.intake.image_decoding import decode_image
from asl_det.visualization.panels import (
    GAP,
    LINE_HEIGHT,
    draw_boxes,
    for_display,
    image_for_drawing,
    make_visualizer,
    page,
    with_caption,
)


def white(height=100, width=120):
    return np.full((height, width, 3), 255, np.uint8)


def test_boxes_and_dashed_dropped_boxes():
    visualizer = make_visualizer(('a', 'b'), palette=[(255, 0, 0), (0, 0, 255)])
    truth = Detections(np.array([[10, 10, 50, 50]], np.float32), np.array([0]))
    dropped = Detections(np.array([[60, 20, 110, 90]], np.float32), np.array([1]))
    drawn = draw_boxes(visualizer, white(), truth, dropped)
    assert drawn.shape == (100, 120, 3)
    # class 0's box in its palette colour: red dominates on its left edge
    edge = drawn[20:40, 10].astype(int)
    assert (edge[:, 0] > edge[:, 2] + 100).all()
    # the dropped box: black dashes and gaps along its left edge
    column = drawn[25:85, 60]
    black = (column.max(axis=1) < 80)
    assert 0.2 < black.mean() < 0.9
    detections = Detections(truth.bboxes, truth.labels, np.array([0.5], np.float32))
    assert not np.array_equal(draw_boxes(visualizer, white(), detections), white())


def test_images_are_resized_with_their_boxes():
    truth = Detections(np.array([[8, 4, 16, 12]], np.float32), np.array([0]))
    image, (scaled, none) = for_display(white(32, 64), [truth, None], min_width=320)
    assert image.shape == (160, 320, 3) and none is None
    assert scaled.bboxes.tolist() == [[40, 20, 80, 60]]
    same, (kept,) = for_display(white(32, 400), [truth], min_width=320)
    assert same.shape == (32, 400, 3) and kept is truth
    smaller, (halved,) = for_display(white(32, 400), [truth], width=200)
    assert smaller.shape == (16, 200, 3) and halved.bboxes.tolist() == [[4, 2, 8, 6]]


def test_captions_wrap_and_pages_pad():
    panel = with_caption(white(50, 200), 'a long caption that cannot fit on one line of '
                                         'two hundred pixels')
    lines = (panel.shape[0] - 50 - 8) // LINE_HEIGHT
    assert panel.shape[1] == 200 and 2 <= lines <= 3
    assert (panel[:-50] < 128).any()  # text drawn
    rows = [[white(50, 100), white(60, 80)], [white(40, 100)]]
    assert page(rows).shape == (60 + GAP + 40 + GAP, 100 + GAP + 80 + GAP, 3)


def rotated_jpeg(path, width=60, height=20):
    """A JPEG stored ``width`` x ``height`` whose EXIF says: rotate 90 degrees to view it
    (orientation 6); its left half red, right half blue, as stored."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, :width // 2] = (255, 0, 0)
    pixels[:, width // 2:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    return str(path)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('color_type', ['color', 'grayscale', 'unchanged'])
def test_images_are_drawn_on_the_pixel_grid_the_pipeline_predicts_on(tmp_path, backend,
                                                                    color_type):
    path = rotated_jpeg(tmp_path / 'rotated.jpg')
    image = image_for_drawing(path, backend, color_type)
    height, width, problem = decode_image(path, backend, color_type)
    assert problem is None
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    if color_type == 'grayscale':
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    elif color_type == 'unchanged':  # stored orientation: red on the left, in RGB order
        assert image.shape[:2] == (20, 60)
        assert image[10, 5, 0] > 200 and image[10, 5, 2] < 60
    else:  # viewed orientation: turned clockwise, red on top
        assert image.shape[:2] == (60, 20)
        assert image[5, 10, 0] > 200 and image[5, 10, 2] < 60


def test_deep_and_alpha_images_become_rgb_bytes(tmp_path):
    deep = np.zeros((8, 10), np.uint16)
    deep[:, 5:] = 65535
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    image = image_for_drawing(str(tmp_path / 'deep.png'), 'cv2', 'unchanged')
    assert image.shape == (8, 10, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [0, 0, 0] and image[0, 9].tolist() == [255, 255, 255]
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[..., 2] = 255  # red in OpenCV's BGRA
    rgba[..., 3] = 128
    cv2.imwrite(str(tmp_path / 'alpha.png'), rgba)
    image = image_for_drawing(str(tmp_path / 'alpha.png'), 'cv2', 'unchanged')
    assert image.shape == (8, 10, 3) and image[0, 0].tolist() == [255, 0, 0]
