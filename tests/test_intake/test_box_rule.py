"""asl_det.intake.box_rule: one rule for boxes against their image, and a box 5 px outside its
image through the YOLO converter, the pre-flight, the config check and one training iteration
of tools/train.py."""
import json
import os.path as osp

import pytest
from intake_fixtures import write_yolo
from tiny_detection import REPO, run_tool, write_tiny_config

from asl_det.config.checks import check_coco_annotations
from asl_det.intake.box_rule import (
    INSIDE,
    NO_AREA,
    NO_OVERLAP,
    PARTLY_OUTSIDE,
    TOO_SMALL,
    box_fate,
    malformed_bbox,
)
from asl_det.intake.coco_output import preflight_converted
from asl_det.intake.yolo_conversion import convert_yolo_to_coco

TRAIN = osp.join(REPO, 'tools', 'train.py')


@pytest.mark.parametrize('box,area,fate', [
    ([0, 0, 64, 48], None, INSIDE),
    ([0, 0, 64.005, 48], None, INSIDE),  # float rounding past the edge
    ([-5, 10, 32, 20], None, PARTLY_OUTSIDE),
    ([50, 40, 20, 20], None, PARTLY_OUTSIDE),
    ([10, 10, 0.5, 20], None, TOO_SMALL),
    ([10, 10, 5, 0], None, TOO_SMALL),
    ([10, 10, 5, 5], 0, NO_AREA),
    ([64, 10, 5, 5], None, NO_OVERLAP),  # touching the right edge from outside
    ([-5, 10, 5, 5], None, NO_OVERLAP),
    ([10, -20, 5, 5], None, NO_OVERLAP),
])
def test_box_fate_is_what_mmdet_coco_dataset_does(box, area, fate):
    assert box_fate(box, 64, 48, area) == fate


def test_malformed_bbox():
    assert not malformed_bbox([0, 0, 0, 0]) and not malformed_bbox((1.5, -3, 2, 2))
    for box in ([0, 0, -1, 2], [0, 0, 2], [0, 0, 2, float('nan')], [0, 0, True, 2], '0 0 2 2',
                None):
        assert malformed_bbox(box), box


# 64 x 64 images; a.png has a 'square' box from x = -5 (5 px outside) and a 'bar' inside
LABELS = {'train/a.png': '0 0.171875 0.3125 0.5 0.3125\n1 0.5 0.75 0.5 0.25\n',
          'train/b.png': '1 0.5 0.5 0.5 0.25\n'}


def test_a_box_5_px_outside_goes_from_converter_to_training(tmp_path, monkeypatch):
    sizes = {key: (64, 64) for key in LABELS}
    data_yaml = write_yolo(tmp_path / 'data', LABELS, sizes=sizes, names=['square', 'bar'])
    summary = convert_yolo_to_coco(data_yaml)
    assert summary.outside_boxes == [['labels/train/a.txt:1', 'square', [-5, 10, 32, 20]]]
    assert 'box partly outside the image (kept): labels/train/a.txt:1: square: ' \
        '[-5, 10, 32, 20]' in summary.lines()
    with open(summary.written['train']) as f:
        assert json.load(f)['annotations'][0]['bbox'] == [-5, 10, 32, 20]  # kept, unclipped
    cache = str(tmp_path / 'cache')
    lines = []
    report, = preflight_converted(summary, summary.root, workers=1, cache_dir=cache,
                                  log=lines.append)
    assert report.errors == [] and report.dropped_boxes == []
    assert report.outside_boxes == [['images/train/a.png', 1, [-5, 10, 32, 20]]]
    assert '1 boxes partly outside the image (kept; clipped by Resize)' in lines[0]
    assert check_coco_annotations(summary.written['train'])['annotations'] == 3

    config = write_tiny_config(str(tmp_path / 'tiny.py'), summary.root, max_iters=1)
    ann = 'annotations_coco/train.json'
    options = [f'{loader}.dataset.{key}' for loader in ('train_dataloader', 'val_dataloader')
               for key in (f'ann_file={ann}', 'data_prefix.img=')]
    options.append(f'val_evaluator.ann_file={osp.join(summary.root, ann)}')
    monkeypatch.setenv('ASL_DET_CACHE', cache)
    result = run_tool([TRAIN, config, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                       *options], cwd=str(tmp_path))
    output = result.stdout + result.stderr
    assert 'partly outside: images/train/a.png: annotation 1 [-5, 10, 32, 20]' in output
    assert (tmp_path / 'work' / 'last_checkpoint').read_text().endswith('iter_1.pth')
