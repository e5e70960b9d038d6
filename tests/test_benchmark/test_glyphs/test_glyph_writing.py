"""Writing and caching the COCO benchmark (asl_det/benchmark/glyphs/writing.py); tiny splits."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asl_det.benchmark.glyphs import GLYPH_CLASSES, generate_glyph_detection, render_glyph_image

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


def test_layout_and_manifest(small):
    root = small['root']
    for split, num in (('train', 20), ('val', 10)):
        assert small[f'{split}_img_prefix'] == f'{split}/'
        assert small[f'{split}_ann'] == osp.join(root, small[f'{split}_ann_file'])
        assert sorted(os.listdir(small[f'{split}_img_dir'])) == [f'{i:06d}.png' for i in range(num)]
        assert small['manifest']['splits'][split] == dict(
            images=num, annotations=len(load_json(small[f'{split}_ann'])['annotations']))
    manifest = load_json(osp.join(root, 'manifest.json'))
    assert manifest == small['manifest']
    assert manifest['params']['num_train'] == 20 and manifest['params']['seed'] == 0
    assert manifest['classes'] == list(GLYPH_CLASSES)
    assert small['reused'] is False


@pytest.mark.parametrize('split, split_index', [('train', 0), ('val', 1)])
def test_every_rendered_glyph_is_annotated(small, split, split_index):
    """Image i of a split is render_glyph_image(default_rng((seed, split, i))), all glyphs kept."""
    coco = load_json(small[f'{split}_ann'])
    for index in (0, 3):
        pixels, glyphs = render_glyph_image(np.random.default_rng([0, split_index, index]))
        with Image.open(osp.join(small[f'{split}_img_dir'], f'{index:06d}.png')) as pil:
            np.testing.assert_array_equal(np.asarray(pil), pixels)
        written = [(a['category_id'] - 1, a['bbox']) for a in coco['annotations']
                   if a['image_id'] == index + 1]
        assert written == glyphs


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


def test_files_of_the_layout_without_its_manifest_are_not_written_over(tmp_path):
    """A folder holding a user's instances_train.json or NNNNNN.png, without this generator's
    manifest, is refused (force=True replaces them); a generation stopped before its end left
    this generator's manifest and is regenerated."""
    (tmp_path / 'annotations').mkdir()
    user_json = tmp_path / 'annotations' / 'instances_train.json'
    user_json.write_text('{"mine": 1}')
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / '000123.png').write_bytes(b'mine')
    with pytest.raises(FileExistsError, match=r'holds .*instances_train\.json and 1 more but no '
                                              r'manifest\.json of this generator'):
        generate_glyph_detection(tmp_path, num_train=2, num_val=1)
    assert user_json.read_text() == '{"mine": 1}'
    assert (tmp_path / 'train' / '000123.png').read_bytes() == b'mine'
    forced = generate_glyph_detection(tmp_path, num_train=2, num_val=1, force=True)
    assert sorted(os.listdir(forced['train_img_dir'])) == ['000000.png', '000001.png']
    with open(forced['manifest_file'], 'w') as f:  # as a generation stopped midway leaves it
        json.dump(dict(generator='asl_det.benchmark.glyphs', version=1, params={}), f)
    again = generate_glyph_detection(tmp_path, num_train=2, num_val=1)
    assert again['reused'] is False and again['manifest']['splits']['train']['images'] == 2
    with open(forced['manifest_file'], 'w') as f:  # written by the package's former name
        json.dump(dict(again['manifest'], generator='asl_det.datasets.glyph_detection'), f)
    assert generate_glyph_detection(tmp_path, num_train=2, num_val=1)['reused'] is True
    with open(forced['manifest_file'], 'w') as f:  # cut short
        f.write('{"generator": "asl_')
    assert generate_glyph_detection(tmp_path, num_train=2, num_val=1)['reused'] is False


def test_incomplete_data_set_is_regenerated(tmp_path):
    first = generate_glyph_detection(tmp_path, num_train=3, num_val=2, seed=4)
    os.remove(osp.join(first['train_img_dir'], '000001.png'))
    again = generate_glyph_detection(tmp_path, num_train=3, num_val=2, seed=4)
    assert again['reused'] is False
    assert sorted(os.listdir(again['train_img_dir'])) == [f'{i:06d}.png' for i in range(3)]


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
