"""The side-by-side command's parts that need no detector: dropped boxes of a missing-label
split, the settings' checks, the image set of a config, the index page (end to end with trained
detectors: tests/test_tools/test_compare_side_by_side.py)."""
import json

import pytest
from tiny_detection import write_tiny_config

from asl_det.benchmark.study.missing_annotations import write_missing_annotation_split
from asl_det.inference import InferenceSetupError, LabelledImages, TrainedRun
from asl_det.visualization.side_by_side import (
    SideBySideSettings,
    config_image_set,
    dropped_annotations,
    index_markdown,
)


@pytest.fixture
def full(tmp_path):
    """6 images, each with 1 to 4 boxes; image 6 has none."""
    annotations, next_id = [], 1
    for image_id in range(1, 6):
        for index in range(image_id % 4 + 1):
            annotations.append(dict(id=next_id, image_id=image_id, category_id=1 + index % 2,
                                    bbox=[10 * index, 5, 8, 8], area=64, iscrowd=0))
            next_id += 1
    path = tmp_path / 'full.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.png', width=64, height=64) for i in range(1, 7)],
        categories=[dict(id=1, name='square'), dict(id=2, name='bar')],
        annotations=annotations)))
    return str(path)


def test_dropped_boxes_are_the_full_file_minus_the_split(full, tmp_path):
    split = write_missing_annotation_split(full, 0.5, out_file=str(tmp_path / 'half.json'))
    with open(full) as f:
        everything = json.load(f)['annotations']
    with open(split['ann_file']) as f:
        kept = {ann['id'] for ann in json.load(f)['annotations']}
    expected = {}
    for ann in everything:
        if ann['id'] not in kept:
            expected.setdefault(ann['image_id'], set()).add(ann['id'])
    images = LabelledImages(full, str(tmp_path), ('square', 'bar'))
    dropped = dropped_annotations(images, split['ann_file'])
    assert dropped == expected and sum(map(len, dropped.values())) == split['dropped_annotations']


def test_a_split_of_another_file_is_refused(full, tmp_path):
    with open(full) as f:
        other = json.load(f)
    other['annotations'][0]['category_id'] = 2
    path = tmp_path / 'other.json'
    path.write_text(json.dumps(other))
    images = LabelledImages(full, str(tmp_path), ('square', 'bar'))
    with pytest.raises(InferenceSetupError, match=r'--train-ann: 1 annotations .* not in '
                                                  r'--gt-ann .* \(e.g. id 1\)'):
        dropped_annotations(images, str(path))
    with pytest.raises(InferenceSetupError, match='--train-ann: no such file'):
        dropped_annotations(images, str(tmp_path / 'missing.json'))


@pytest.mark.parametrize('change,match', [
    (dict(num_images=0), 'num_images'), (dict(rows_per_page=0), 'rows_per_page'),
    (dict(select='best'), 'select must be one of'), (dict(iou=0.3), 'iou'),
    (dict(score_thr=1.5), 'score_thr'), (dict(batch_size=0), 'batch_size')])
def test_settings_are_checked(change, match):
    with pytest.raises(ValueError, match=match):
        SideBySideSettings(out_dir='out', **change).validate()


def test_image_sets_of_a_config(tmp_path):
    config = write_tiny_config(str(tmp_path / 'tiny.py'), str(tmp_path / 'data'))
    val, train = config_image_set(config, 'val'), config_image_set(config, 'train')
    assert val.ann_file == f'{tmp_path}/data/annotations/instances_val.json'
    assert val.img_dir.rstrip('/') == f'{tmp_path}/data/val'
    assert train.img_dir.rstrip('/') == f'{tmp_path}/data/train'


def test_index_page():
    runs = [TrainedRun(name, f'work/{name}', 'c.py', f'work/{name}/iter_4.pth')
            for name in ('focal', 'asl')]
    threshold = dict(threshold=0.41, f1=0.8, precision=0.75, recall=0.857, detections=9,
                     ground_truth=7, iou=0.5)
    index = dict(
        runs=[dict(name=run.name, checkpoint=run.checkpoint,
                   threshold=dict(threshold, threshold=None if run.name == 'asl' else 0.41))
              for run in runs],
        thresholds_on=dict(ann_file='val.json'), iou=0.5, select='disagree', seed=0,
        fixed_score_thr=None, pages=['page_001.png'],
        drawn=dict(ann_file='full.json', train_ann='half.json'),
        images=[dict(page=1, image='1.png', labelled=3, dropped=1, models=dict(
            focal=dict(boxes=4, on_labels=2, found_dropped=1),
            asl=dict(boxes=0, on_labels=0, found_dropped=0)))])
    page = index_markdown(index, runs)
    assert 'own best-F1 score threshold on `val.json`' in page
    assert '| focal | 0.4100 | 0.800 | 0.750 | 0.857 | `work/focal/iter_4.pth` |' in page
    assert '| asl | - |' in page
    assert 'Dashed black boxes' in page and 'disagree most' in page
    assert '| 1 | 1.png | 3 | 1 | 4 / 2 / 1 | 0 / 0 / 0 |' in page
    assert '![page 1](page_001.png)' in page
