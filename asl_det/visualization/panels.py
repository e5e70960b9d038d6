"""One image drawn per model, captioned, and rows of them put together into a page.

Boxes, class names and scores are drawn by mmdet's ``DetLocalVisualizer`` (what ``tools/test.py
--show-dir`` and ``DetInferencer`` draw with); boxes dropped from the training labels are drawn
on top in their own style (:data:`DROPPED_STYLE`: dashed, black) on every panel, so each model's
panel shows whether it found them. Images are RGB uint8 (H, W, 3).
"""
import itertools
from typing import List, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine import fileio
from mmengine.structures import InstanceData

from asl_det.inference.labelled_images import Detections

#: How the boxes dropped from the training labels are drawn (``Visualizer.draw_bboxes``).
DROPPED_STYLE = dict(edge_colors=(0, 0, 0), line_styles='--', line_widths=3)
#: Captions: OpenCV's plain font, pixels per line.
FONT, FONT_SCALE, LINE_HEIGHT = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 18
#: Narrower images are enlarged to this width for drawing (unless a width is given).
MIN_PANEL_WIDTH = 320
#: Gap between panels and between rows, in pixels (white).
GAP = 8

_NAMES = itertools.count()


def make_visualizer(classes: Sequence[str], palette=None) -> DetLocalVisualizer:
    """A ``DetLocalVisualizer`` of its own (a new instance name) for these classes; ``palette``
    as mmdet takes it (a list of RGB tuples, or a name such as 'random')."""
    visualizer = DetLocalVisualizer(name=f'asl_det_side_by_side_{next(_NAMES)}')
    visualizer.dataset_meta = dict(classes=tuple(classes), palette=palette or 'random')
    return visualizer


def image_for_drawing(path: str, backend: str = 'cv2', color_type: str = 'color') -> np.ndarray:
    """The image at ``path`` decoded as the test pipeline's ``LoadImageFromFile(color_type=...,
    imdecode_backend=backend)`` decodes it (so the same EXIF orientation and pixel grid as the
    predicted boxes), as RGB uint8 (H, W, 3): grey repeated in 3 channels, alpha dropped, deeper
    integer images scaled to 8 bits."""
    image = mmcv.imfrombytes(fileio.get(path), flag=color_type, backend=backend,
                             channel_order='bgr')
    if image is None:
        raise ValueError(f'{path}: cannot be decoded (mmcv.imfrombytes returns None)')
    if image.dtype != np.uint8:
        top = np.iinfo(image.dtype).max if image.dtype.kind in 'iu' else max(image.max(), 1)
        image = np.clip(image.astype(np.float64) * (255.0 / top), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., 2::-1])  # BGR(A) -> RGB


def draw_boxes(visualizer: DetLocalVisualizer, image: np.ndarray, boxes: Detections,
               dropped: Optional[Detections] = None) -> np.ndarray:
    """``image`` with ``boxes`` drawn as mmdet draws them: ground truth (no ``scores``: class
    names) or detections (class names and scores), and ``dropped`` boxes in
    :data:`DROPPED_STYLE`."""
    # numpy arrays: mmdet's label scaling calls np.clip, which torch tensors only half support
    instances = InstanceData(bboxes=boxes.bboxes, labels=boxes.labels)
    sample = DetDataSample()
    if boxes.scores is None:
        sample.gt_instances = instances
    else:
        instances.scores = boxes.scores
        sample.pred_instances = instances
    visualizer.add_datasample('panel', image, sample, draw_gt=boxes.scores is None,
                              draw_pred=boxes.scores is not None, show=False,
                              pred_score_thr=-1.0)  # already thresholded by the caller
    drawn = visualizer.get_image()
    if dropped is not None and len(dropped):
        visualizer.set_image(drawn)
        visualizer.draw_bboxes(dropped.bboxes, **DROPPED_STYLE)
        drawn = visualizer.get_image()
    return drawn


def for_display(image: np.ndarray, boxes: Sequence[Optional[Detections]],
                width: Optional[int] = None, min_width: int = MIN_PANEL_WIDTH):
    """``image`` resized to ``width`` pixels wide (None: kept, but enlarged to ``min_width`` if
    narrower, so captions and labels are readable), and ``boxes`` (None entries kept) scaled
    with it."""
    height, old_width = image.shape[:2]
    new_width = width or max(old_width, min_width)
    if new_width == old_width:
        return image, list(boxes)
    new_height = max(1, round(height * new_width / old_width))
    factor = np.array([new_width / old_width, new_height / height] * 2, np.float32)
    scaled = [None if b is None else Detections(b.bboxes * factor, b.labels, b.scores)
              for b in boxes]
    interpolation = 'nearest' if new_width > old_width else 'area'
    return mmcv.imresize(image, (new_width, new_height), interpolation=interpolation), scaled


def with_caption(panel: np.ndarray, text: str, max_lines: int = 3) -> np.ndarray:
    """``panel`` under a white strip holding ``text``, wrapped at spaces to the panel's width
    (at most ``max_lines`` lines; a longer text is cut)."""
    def fits(line):
        return cv2.getTextSize(line, FONT, FONT_SCALE, 1)[0][0] <= panel.shape[1] - 8

    lines, line = [], ''
    for word in text.split(' '):
        candidate = f'{line} {word}' if line else word
        if fits(candidate) or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    lines = lines[:max_lines]
    while not fits(lines[-1]) and len(lines[-1]) > 1:
        lines[-1] = lines[-1][:-2] + '~'
    strip = np.full((LINE_HEIGHT * len(lines) + 8, panel.shape[1], 3), 255, np.uint8)
    for number, line in enumerate(lines):
        cv2.putText(strip, line, (4, LINE_HEIGHT * (number + 1)), FONT, FONT_SCALE, (0, 0, 0),
                    1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def page(rows: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """The panels of each row side by side, rows one under the other, :data:`GAP` pixels apart
    on white; shorter panels and rows are padded at the bottom and right."""
    lines: List[np.ndarray] = []
    for panels in rows:
        height = max(p.shape[0] for p in panels)
        padded = []
        for panel in panels:
            padded.append(np.pad(panel, ((0, height - panel.shape[0]), (0, GAP), (0, 0)),
                                 constant_values=255))
        lines.append(np.concatenate(padded, axis=1))
    width = max(line.shape[1] for line in lines)
    return np.concatenate([np.pad(line, ((0, GAP), (0, width - line.shape[1]), (0, 0)),
                                  constant_values=255) for line in lines], axis=0)
