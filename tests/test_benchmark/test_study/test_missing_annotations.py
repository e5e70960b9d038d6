"""Missing-annotation train splits (asl_det/benchmark/study/missing_annotations.py)."""
import collections
import hashlib
import json
import math
import os
import os.path as osp
import random

import pytest

from asl_det.benchmark.glyphs import generate_glyph_detection
from asl_det.benchmark.study.missing_annotations import (
    drop_annotations,
    write_missing_annotation_split,
)


def synthetic_coco(boxes_per_image, seed=0):
    """A COCO dict whose image i + 1 has boxes_per_image[i] boxes, ids 1..N in file order."""
    rng = random.Random(seed)
    images = [dict(id=i + 1, file_name=f'{i:06d}.png', width=64, height=64)
              for i in range(len(boxes_per_image))]
    annotations = []
    for image, count in zip(images, boxes_per_image):
        for _ in range(count):
            x, y = rng.randrange(50), rng.randrange(50)
            annotations.append(dict(id=len(annotations) + 1, image_id=image['id'], category_id=1,
                                    bbox=[x, y, 8, 8], area=64, iscrowd=0))
    return dict(info=dict(description='synthetic'), images=images, annotations=annotations,
                categories=[dict(id=1, name='a')])


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def dropped_ids(annotations, kept):
    return {a['id'] for a in annotations} - {a['id'] for a in kept}


@pytest.fixture
def coco_file(tmp_path):
    counts = [(i * 7) % 8 + 1 for i in range(300)]  # 1 to 8 boxes per image
    return write_json(tmp_path / 'instances_train.json', synthetic_coco(counts))


def test_each_image_loses_floor_or_ceil_of_its_share(coco_file):
    source = load_json(coco_file)
    result = write_missing_annotation_split(coco_file, 0.3, seed=0)
    written = load_json(result['ann_file'])
    before = collections.Counter(a['image_id'] for a in source['annotations'])
    after = collections.Counter(a['image_id'] for a in written['annotations'])
    for image_id, n in before.items():
        lost = n - after[image_id]
        assert lost in (math.floor(0.3 * n), math.ceil(0.3 * n)), (image_id, n, lost)
    assert set(after) <= set(before)  # no image gains boxes, none appears from nowhere
    # kept boxes are the source's, unchanged (ids included); images and categories are shared
    by_id = {a['id']: a for a in source['annotations']}
    assert all(by_id[a['id']] == a for a in written['annotations'])
    assert written['images'] == source['images']
    assert written['categories'] == source['categories']


def test_realised_fraction_is_the_requested_one_up_to_rounding(coco_file):
    total = len(load_json(coco_file)['annotations'])
    result = write_missing_annotation_split(coco_file, 0.3, seed=0)
    kept = len(load_json(result['ann_file'])['annotations'])
    assert result['annotations'] == kept and result['dropped_annotations'] == total - kept
    assert result['dropped_fraction'] == pytest.approx((total - kept) / total)
    # 300 images, each rounded up or down at random: the total is off by a few boxes at most
    assert abs(result['dropped_fraction'] - 0.3) < 0.02


def test_exact_when_every_share_is_whole():
    annotations = synthetic_coco([4] * 50)['annotations']
    kept = drop_annotations(annotations, 0.25, seed=9)
    assert len(kept) == 150
    assert collections.Counter(a['image_id'] for a in kept) == {i: 3 for i in range(1, 51)}
    assert drop_annotations(annotations, 0.0, seed=9) == annotations


def test_same_seed_same_boxes_in_any_annotation_order():
    annotations = synthetic_coco([(i * 5) % 7 + 1 for i in range(100)])['annotations']
    reference = dropped_ids(annotations, drop_annotations(annotations, 0.4, seed=3))
    assert dropped_ids(annotations, drop_annotations(annotations, 0.4, seed=3)) == reference
    shuffled = list(annotations)
    random.Random(0).shuffle(shuffled)  # across and within images
    assert dropped_ids(shuffled, drop_annotations(shuffled, 0.4, seed=3)) == reference


def test_different_seed_drops_different_boxes():
    annotations = synthetic_coco([6] * 100)['annotations']
    assert dropped_ids(annotations, drop_annotations(annotations, 0.4, seed=3)) != dropped_ids(
        annotations, drop_annotations(annotations, 0.4, seed=4))


def test_only_the_new_file_is_written(tmp_path, coco_file):
    val_file = write_json(tmp_path / 'instances_val.json', synthetic_coco([3] * 5, seed=2))
    before = {name: digest(tmp_path / name) for name in os.listdir(tmp_path)}
    result = write_missing_annotation_split(coco_file, 0.3, seed=0)
    assert result['ann_file'] == str(tmp_path / 'instances_train_missing30.json')
    after = {name: digest(tmp_path / name) for name in os.listdir(tmp_path)}
    assert set(after) == set(before) | {'instances_train_missing30.json'}
    assert {name: after[name] for name in before} == before
    assert osp.basename(val_file) in before


def test_split_is_cached_and_rewritten_when_the_request_changes(coco_file):
    first = write_missing_annotation_split(coco_file, 0.3, seed=0)
    stamp = os.stat(first['ann_file']).st_mtime_ns
    again = write_missing_annotation_split(coco_file, 0.3, seed=0)
    assert again == first and os.stat(first['ann_file']).st_mtime_ns == stamp

    # 0.302 names the same file (missing30) but is another split: rewritten, not reused
    nearby = write_missing_annotation_split(coco_file, 0.302, seed=0)
    assert nearby['ann_file'] == first['ann_file'] and nearby['fraction'] == 0.302
    info = load_json(first['ann_file'])['info']['missing_annotations']
    assert info['fraction'] == 0.302
    reseeded = write_missing_annotation_split(coco_file, 0.302, seed=1)
    assert load_json(first['ann_file'])['info']['missing_annotations']['seed'] == 1
    assert reseeded['seed'] == 1

    other = write_missing_annotation_split(coco_file, 0.5, seed=0)
    assert other['ann_file'].endswith('instances_train_missing50.json')
    assert other['dropped_fraction'] > nearby['dropped_fraction']


def test_a_corrected_source_of_as_many_boxes_is_split_afresh(coco_file):
    first = write_missing_annotation_split(coco_file, 0.5, seed=0)
    corrected = load_json(coco_file)
    kept_id = load_json(first['ann_file'])['annotations'][0]['id']
    box = next(ann for ann in corrected['annotations'] if ann['id'] == kept_id)
    box['bbox'] = [1, 2, 3, 4]  # a box fixed in place: the count, the cache key, unchanged
    corrected['images'][0]['width'] += 1
    write_json(coco_file, corrected)
    write_missing_annotation_split(coco_file, 0.5, seed=0)
    split = load_json(first['ann_file'])
    assert next(a for a in split['annotations'] if a['id'] == kept_id)['bbox'] == [1, 2, 3, 4]
    assert split['images'] == corrected['images']


@pytest.mark.parametrize('fraction, error', [
    (1.0, ValueError), (-0.1, ValueError), (float('nan'), ValueError), ('0.3', TypeError),
    (True, TypeError)])
def test_bad_fraction_names_the_parameter(tmp_path, coco_file, fraction, error):
    with pytest.raises(error, match='fraction'):
        write_missing_annotation_split(coco_file, fraction)
    with pytest.raises(error, match='fraction'):
        drop_annotations(load_json(coco_file)['annotations'], fraction, seed=0)
    assert os.listdir(tmp_path) == ['instances_train.json']


def test_glyph_split_keeps_pixels_and_val(tmp_path):
    """On the generated benchmark: the images and the val file stay as the generator wrote them."""
    data = generate_glyph_detection(tmp_path / 'glyphs', num_train=6, num_val=3, seed=0)
    files = [data['val_ann'], data['train_ann']] + [
        osp.join(data['train_img_dir'], n) for n in sorted(os.listdir(data['train_img_dir']))]
    before = [digest(p) for p in files]
    result = write_missing_annotation_split(data['train_ann'], 0.5, seed=0)
    assert [digest(p) for p in files] == before
    assert result['ann_file'] == osp.join(data['root'], 'annotations',
                                          'instances_train_missing50.json')
    full = load_json(data['train_ann'])['annotations']
    kept = load_json(result['ann_file'])['annotations']
    assert 0 < len(kept) < len(full) and all(a in full for a in kept)
