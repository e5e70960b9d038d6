"""The real BCCD data set (read-only, ../shared/data/BCCD_Dataset or $BCCD_ROOT) converted to
COCO into a tmp folder, with the pre-flight on the result."""
import os
import os.path as osp
from collections import Counter

import pytest
from intake_fixtures import snapshot

from asl_det.intake.coco_output import preflight_converted
from asl_det.intake.voc_conversion import convert_voc_to_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BCCD = os.environ.get('BCCD_ROOT') or osp.join(REPO, '..', 'shared', 'data', 'BCCD_Dataset')
VOC_ROOT = osp.join(BCCD, 'BCCD')

pytestmark = pytest.mark.skipif(
    not osp.isdir(osp.join(VOC_ROOT, 'Annotations')),
    reason=f'BCCD not found at {VOC_ROOT} (set BCCD_ROOT to the BCCD_Dataset clone)')


def test_bccd_converts_with_its_published_counts(tmp_path):
    before = {k: v[0] for k, v in snapshot(VOC_ROOT).items()}
    summary = convert_voc_to_coco(VOC_ROOT, out_dir=str(tmp_path / 'coco'),
                                  splits=['trainval', 'test'],
                                  classes=['RBC', 'WBC', 'Platelets'])
    assert summary.images == {'trainval': 292, 'test': 72}
    assert summary.xml_boxes == 4888
    written = summary.boxes['trainval'] + summary.boxes['test']
    dropped = Counter(name for _, name, _, _ in summary.dropped_boxes)
    assert written + dropped == Counter(RBC=4155, WBC=372, Platelets=361)
    assert summary.dropped_boxes == [
        ['BloodImage_00338.xml', 'RBC', [503, 336, 0, 0], 'width or height < 1 px'],
        ['BloodImage_00343.xml', 'RBC', [180, 328, 0, 0], 'width or height < 1 px']]
    assert summary.outside_boxes == []
    lines = []
    reports = preflight_converted(summary, VOC_ROOT, workers=2, cache_dir=str(tmp_path / 'c'),
                                  log=lines.append)
    assert [(r.num_images, r.num_boxes, r.errors, r.bad_images) for r in reports] == [
        (292, 3941, [], []), (72, 945, [], [])]
    assert [len(r.near_duplicates) for r in reports] == [6, 1]
    assert reports[1].near_duplicates[0][:2] == ['JPEGImages/BloodImage_00284.jpg', 682]
    assert {k: v[0] for k, v in snapshot(VOC_ROOT).items()} == before  # read only
