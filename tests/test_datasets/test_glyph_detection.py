"""Tests of the glyph detection benchmark generator (tiny splits, whole file in seconds)."""
import collections
import json
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asl_det.datasets import GLYPH_CLASSES, generate_glyph_detection, render_glyph_image

SMALL = dict(num_train=20, num_val=10, seed=0)


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def load_json(path):
    with open(path) as f:
        return json.load(f)


def split_files(result, split):
    """{relative path: bytes} of a split's annotation file and images."""
    files = {'ann': read_bytes(result[f'{split}_ann'])}
    for name in sorted(os.listdir(result[f'{split}_img_dir'])):
        files[name] = read_bytes(osp.join(result[f'{split}_img_dir'], name))
    return files


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    return generate_glyph_detection(tmp_path_factory.mktemp('glyphs') / 'small', **SMALL)


def test_classes():
    assert len(GLYPH_CLASSES) >= 30
    assert len(set(GLYPH_CLASSES)) == len(GLYPH_CLASSES)
    assert GLYPH_CLASSES[:10] == tuple(f'digit_{d}' for d in range(10))
    assert all(name.startswith('letter_') for name in GLYPH_CLASSES[10:])
    assert not {'letter_O', 'letter_I'} & set(GLYPH_CLASSES)


def test_layout_and_manifest(small):
    root = small['root']
    for split, num in (('train', 20), ('val', 10)):
        assert small[f'{split}_img_prefix'] == f'{split}/'
        assert small[f'{split}_ann'] == osp.join(root, small[f'{split}_ann_file'])
        assert sorted(os.listdir(small[f'{split}_img_dir'])) == [f'{i:06d}.png' for i in range(num)]
    manifest = load_json(osp.join(root, 'manifest.json'))
    assert manifest == small['manifest']
    assert manifest['params']['num_train'] == 20 and manifest['params']['seed'] == 0
    assert manifest['classes'] == list(GLYPH_CLASSES)
    assert manifest['splits']['train']['dropped_annotations'] == 0
    assert small['reused'] is False


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_validity(small, split):
    coco = COCO(small[f'{split}_ann'])
    cats = coco.loadCats(coco.getCatIds())
    assert [c['id'] for c in cats] == list(range(1, len(GLYPH_CLASSES) + 1))
    assert [c['name'] for c in cats] == list(GLYPH_CLASSES)
    anns = coco.dataset['annotations']
    assert len({a['id'] for a in anns}) == len(anns) and min(a['id'] for a in anns) == 1
    for img in coco.dataset['images']:
        with Image.open(osp.join(small[f'{split}_img_dir'], img['file_name'])) as pil:
            assert pil.size == (img['width'], img['height']) == (128, 128)
            assert pil.mode == 'RGB'
        img_anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert 1 <= len(img_anns) <= 8
        for ann in img_anns:
            x, y, w, h = ann['bbox']
            assert w > 0 and h > 0 and x >= 0 and y >= 0
            assert x + w <= img['width'] and y + h <= img['height']
            assert ann['area'] == w * h and ann['iscrowd'] == 0
            assert 1 <= ann['category_id'] <= len(GLYPH_CLASSES)


def test_cocoeval_scores_ground_truth_perfectly(small):
    gt = COCO(small['val_ann'])
    dets = gt.loadRes([dict(image_id=a['image_id'], category_id=a['category_id'],
                            bbox=a['bbox'], score=1.0) for a in gt.dataset['annotations']])
    evaluator = COCOeval(gt, dets, 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)


def test_class_and_size_statistics():
    sides, labels, counts = [], collections.Counter(), []
    for index in range(150):
        pixels, glyphs = render_glyph_image(np.random.default_rng([7, index]), max_objects=6,
                                            min_size=20, max_size=40)
        assert pixels.shape == (128, 128, 3) and pixels.dtype == np.uint8
        counts.append(len(glyphs))
        for label, (_, _, w, h) in glyphs:
            labels[label] += 1
            sides.append(max(w, h))
    assert set(labels) == set(range(len(GLYPH_CLASSES)))
    assert min(counts) >= 1 and max(counts) <= 6
    # the longer box side is the drawn size, less what the border or other glyphs hide
    assert 0.7 * 20 <= min(sides) and max(sides) <= 40 + 1
    assert np.median(sides) > 22


def test_deterministic_and_worker_independent(small, tmp_path):
    again = generate_glyph_detection(tmp_path / 'again', num_workers=2, **SMALL)
    for split in ('train', 'val'):
        assert split_files(again, split) == split_files(small, split)
    other = generate_glyph_detection(tmp_path / 'other', **dict(SMALL, seed=1))
    assert read_bytes(other['train_ann']) != read_bytes(small['train_ann'])


def test_cache_reused_and_invalidated(tmp_path):
    params = dict(num_train=4, num_val=3, seed=3)
    first = generate_glyph_detection(tmp_path, **params)
    foreign = tmp_path / 'train' / 'notes.txt'
    foreign.write_text('not ours')
    stamps = {p: os.stat(p).st_mtime_ns for p in (first['manifest_file'], first['train_ann'],
                                                  osp.join(first['val_img_dir'], '000002.png'))}
    second = generate_glyph_detection(tmp_path, **params)
    assert second['reused'] is True and second['manifest'] == first['manifest']
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps

    third = generate_glyph_detection(tmp_path, **dict(params, num_val=2))
    assert third['reused'] is False
    assert sorted(os.listdir(third['val_img_dir'])) == ['000000.png', '000001.png']
    assert third['manifest']['params']['num_val'] == 2
    assert foreign.read_text() == 'not ours'
    assert generate_glyph_detection(tmp_path, force=True, **dict(params, num_val=2))[
        'reused'] is False


def test_missing_labels(small, tmp_path):
    dropped = generate_glyph_detection(tmp_path, missing_label_fraction=0.3, **SMALL)
    full = load_json(small['train_ann'])['annotations']
    kept = load_json(dropped['train_ann'])['annotations']
    assert len(kept) == len(full) - round(0.3 * len(full))
    assert dropped['manifest']['splits']['train']['dropped_annotations'] == len(full) - len(kept)
    assert [a['id'] for a in kept] == list(range(1, len(kept) + 1))
    key = lambda a: (a['image_id'], a['category_id'], tuple(a['bbox']))  # noqa: E731
    assert {key(a) for a in kept} < {key(a) for a in full}
    # the unlabelled glyphs are still drawn; val keeps every label
    assert split_files(dropped, 'val') == split_files(small, 'val')
    for name in ('000000.png', '000019.png'):
        assert read_bytes(osp.join(dropped['train_img_dir'], name)) == read_bytes(
            osp.join(small['train_img_dir'], name))
    assert dropped['manifest']['splits']['val']['dropped_annotations'] == 0


@pytest.mark.parametrize('kwargs, error, name', [
    (dict(num_train=0), ValueError, 'num_train'),
    (dict(num_train=2.5), TypeError, 'num_train'),
    (dict(num_val=0), ValueError, 'num_val'),
    (dict(img_size=16), ValueError, 'img_size'),
    (dict(min_objects=0), ValueError, 'min_objects'),
    (dict(min_objects=9), ValueError, 'min_objects'),
    (dict(max_objects=40), ValueError, 'max_objects'),
    (dict(min_size=60), ValueError, 'min_size'),
    (dict(max_size=200), ValueError, 'max_size'),
    (dict(missing_label_fraction=1.0), ValueError, 'missing_label_fraction'),
    (dict(missing_label_fraction=-0.1), ValueError, 'missing_label_fraction'),
    (dict(missing_label_fraction='0.1'), TypeError, 'missing_label_fraction'),
    (dict(seed=-1), ValueError, 'seed'),
    (dict(seed=True), TypeError, 'seed'),
    (dict(force='yes'), TypeError, 'force'),
    (dict(num_workers=0), ValueError, 'num_workers'),
])
def test_argument_validation(tmp_path, kwargs, error, name):
    with pytest.raises(error, match=name):
        generate_glyph_detection(tmp_path, **kwargs)
    assert not os.listdir(tmp_path)


def test_out_dir_type():
    with pytest.raises(TypeError, match='out_dir'):
        generate_glyph_detection(3)


def test_cli(tmp_path, monkeypatch, capsys):
    script = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'make_dataset.py')
    monkeypatch.setattr(sys, 'argv', ['make_dataset.py', '--out', str(tmp_path), '--num-train',
                                      '3', '--num-val', '2', '--workers', '1'])
    runpy.run_path(script, run_name='__main__')
    assert 'generated' in capsys.readouterr().out
    assert load_json(tmp_path / 'manifest.json')['splits']['val']['images'] == 2
