"""asl_det.config.checks.check_coco_annotations follows the project's one box rule
(asl_det.intake.box_rule): it refuses malformed bboxes only, never a box for where it lies."""
import json

import pytest

from asl_det.config.checks import check_coco_annotations


def write_coco(path, boxes):
    """One 64 x 48 image with a box per entry of ``boxes``."""
    data = dict(images=[dict(id=1, file_name='a.png', width=64, height=48)],
                annotations=[dict(id=i, image_id=1, category_id=1, bbox=list(box),
                                  area=25, iscrowd=0)
                             for i, box in enumerate(boxes, 1)],
                categories=[dict(id=1, name='cell')])
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize('box', [
    (-5, 10, 20, 20),  # 5 px outside on the left: kept by mmdet, Resize clips it
    (50, 40, 20, 20),  # past the right and bottom edges
    (70, 10, 5, 5),  # no overlap with the image: mmdet drops it, the pre-flight reports it
    (10, 10, 0, 0),  # zero size: likewise
])
def test_boxes_are_not_refused_for_where_they_lie(tmp_path, box):
    summary = check_coco_annotations(write_coco(tmp_path / 'a.json', [(1, 1, 10, 10), box]))
    assert summary['annotations'] == 2


@pytest.mark.parametrize('box', [(10, 10, -3, 5), (10, 10, 5), (10, 10, 5, float('inf'))])
def test_malformed_boxes_are_refused(tmp_path, box):
    with pytest.raises(ValueError, match=r'1 boxes are not \[x, y, w, h\] with finite values '
                                         r'and w, h >= 0: annotation 1'):
        check_coco_annotations(write_coco(tmp_path / 'a.json', [box]))
