"""The one rule for a box against its image, from the converters to training.

mmdet's ``CocoDataset.parse_data_info`` drops, silently, a box with ``w < 1``, ``h < 1`` or
``area <= 0`` and a box with no overlap with its image, and keeps a box that leaves the image
partly (``Resize`` and ``RandomCrop`` clip it later). So does this project, in every place:

- the converters (VOC, YOLO) leave out and report what mmdet would drop, and keep and count the
  boxes partly outside (unclipped, as mmdet's own readers keep them);
- the pre-flight reports dropped boxes and boxes partly outside as notes, not errors;
- the config check (``asl_det.config.checks.check_coco_annotations``) refuses only a malformed
  ``bbox`` (:func:`malformed_bbox`), never a box for where it lies.

Boxes are COCO ``[x, y, w, h]`` in pixels; the image is ``width`` x ``height`` pixels.
"""
import math
from typing import Optional, Sequence

INSIDE = 'inside the image'
PARTLY_OUTSIDE = 'partly outside the image'
TOO_SMALL = 'width or height < 1 px'
NO_AREA = 'area <= 0'
NO_OVERLAP = 'no overlap with the image'
#: What mmdet drops, in the order the rule tests it.
DROPPED = (TOO_SMALL, NO_AREA, NO_OVERLAP)
#: A box edge this far (px) past the image still counts as inside: float rounding of
#: normalised coordinates (TXL-PBC's 6-decimal labels overshoot by up to 0.0004 px).
EDGE_TOLERANCE = 0.01


def box_fate(box: Sequence[float], width: float, height: float,
             area: Optional[float] = None) -> str:
    """What mmdet does with ``box`` = ``[x, y, w, h]`` on a ``width`` x ``height`` image:
    ``INSIDE`` or ``PARTLY_OUTSIDE`` (kept), else the reason it is dropped (one of
    ``DROPPED``). ``area``: the annotation's ``area`` field, when there is one."""
    x, y, w, h = box
    if w < 1 or h < 1:
        return TOO_SMALL
    if area is not None and area <= 0:
        return NO_AREA
    if min(x + w, width) - max(x, 0) <= 0 or min(y + h, height) - max(y, 0) <= 0:
        return NO_OVERLAP
    if (x < -EDGE_TOLERANCE or y < -EDGE_TOLERANCE or x + w > width + EDGE_TOLERANCE
            or y + h > height + EDGE_TOLERANCE):
        return PARTLY_OUTSIDE
    return INSIDE


def malformed_bbox(box) -> bool:
    """True unless ``box`` is 4 finite numbers ``[x, y, w, h]`` with ``w, h >= 0`` (COCO's
    format; a negative size means the file is broken, not that a box is small)."""
    return not (isinstance(box, (list, tuple)) and len(box) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) for v in box)
                and box[2] >= 0 and box[3] >= 0)
