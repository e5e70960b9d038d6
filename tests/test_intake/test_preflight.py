"""asl_det.intake.preflight (and its cache, image decoding and COCO checks) on small COCO sets."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from intake_fixtures import coco_config, snapshot, truncate, write_coco, write_image

from asl_det.intake import image_decoding
from asl_det.intake.coco_checks import DatasetReport
from asl_det.intake.preflight import PreflightError, preflight_coco, preflight_config, raise_for

CLEAN = [(1, 1, [2, 2, 20, 20]), (2, 2, [10, 5, 30, 30]), (3, 1, [0, 0, 64, 48])]


def lines_of(call, *args, **kwargs):
    lines = []
    result = call(*args, log=lines.append, **kwargs)
    return result, lines


@pytest.fixture
def counting_decoder(monkeypatch):
    """Patch decode_image to count its calls (workers=1 decodes in this process)."""
    calls = []
    real = image_decoding.decode_image

    def decode(path, *args):
        calls.append(osp.basename(path))
        return real(path, *args)
    monkeypatch.setattr(image_decoding, 'decode_image', decode)
    return calls


def test_clean_data_returns_the_config_unchanged(tmp_path):
    write_coco(tmp_path, CLEAN)
    cfg = coco_config(tmp_path)
    result, lines = lines_of(preflight_config, cfg, workers=1, cache_dir=str(tmp_path / 'c'))
    assert result is cfg
    assert lines == [f'preflight: train_dataloader.dataset: {tmp_path}/ann/train.json: 3 images, '
                     '3 boxes, 2 classes; no problems']  # val: the same data set, checked once


def test_truncated_jpeg_is_detected_also_when_the_decoder_only_warns(tmp_path, monkeypatch):
    good = str(tmp_path / 'good.jpg')
    write_image(good)
    assert image_decoding.decode_image(good) == (48, 64, None)
    cut = str(tmp_path / 'cut.jpg')
    write_image(cut)
    truncate(cut, keep=0.97)
    height, width, problem = image_decoding.decode_image(cut)
    assert (height, width) == (0, 0) and 'returns None' in problem  # OpenCV 5: gives up
    _, _, problem = image_decoding.decode_image(cut, backend='pillow')
    assert 'image file is truncated' in problem
    # OpenCV 4.x decodes it grey-filled with a warning: the end-marker check still catches it
    monkeypatch.setattr(image_decoding.mmcv, 'imfrombytes',
                        lambda *a, **k: np.zeros((48, 64, 3), np.uint8))
    _, _, problem = image_decoding.decode_image(cut)
    assert problem.startswith('truncated JPEG (no end marker; PIL: image file is truncated')
    with open(good, 'ab') as f:
        f.write(b'trailing bytes after the end marker')
    assert image_decoding.decode_image(good) == (48, 64, None)


def test_bad_images_raise_naming_the_files(tmp_path):
    write_coco(tmp_path, CLEAN, num_images=4)
    truncate(str(tmp_path / 'images' / '2.jpg'))
    os.remove(tmp_path / 'images' / '3.jpg')
    with pytest.raises(PreflightError) as error:
        preflight_config(coco_config(tmp_path), workers=1, cache_dir=str(tmp_path / 'c'),
                         log=lambda line: None)
    message = str(error.value)
    assert '2 images under' in message and '--skip-bad-images' in message
    assert '2.jpg (truncated JPEG' in message or '2.jpg (mmcv.imfrombytes' in message
    assert '3.jpg (missing:' in message


def test_skip_bad_images_filters_a_copy_and_leaves_the_input(tmp_path):
    write_coco(tmp_path, CLEAN, num_images=3)
    truncate(str(tmp_path / 'images' / '2.jpg'))
    before = snapshot(tmp_path)
    cfg = coco_config(tmp_path)
    result, lines = lines_of(preflight_config, cfg, skip_bad_images=True, workers=1,
                             cache_dir=str(tmp_path / 'c'))
    assert snapshot(tmp_path / 'images') == {k[7:]: v for k, v in before.items()
                                             if k.startswith('images/')}
    assert snapshot(tmp_path / 'ann') == {k[4:]: v for k, v in before.items()
                                          if k.startswith('ann/')}
    filtered = result.train_dataloader.dataset.ann_file
    assert filtered.startswith(str(tmp_path / 'c' / 'filtered'))
    assert result.val_dataloader.dataset.ann_file == filtered
    assert result.val_evaluator.ann_file == filtered
    assert cfg.train_dataloader.dataset.ann_file == 'ann/train.json'  # the input config too
    with open(filtered) as f:
        coco = json.load(f)
    assert [i['file_name'] for i in coco['images']] == ['1.jpg', '3.jpg']
    assert [a['image_id'] for a in coco['annotations']] == [1, 3]
    assert any(line.startswith('  bad image: 2.jpg: ') for line in lines)
    assert any('bad images skipped' in line for line in lines)


def test_annotation_errors_name_the_file_and_ids(tmp_path):
    ann = write_coco(tmp_path, CLEAN + [(9, 1, [1, 1, 5, 5]), (1, 7, [1, 1, 5, 5])])
    report = preflight_coco(ann, str(tmp_path / 'images'), workers=1,
                            cache_dir=str(tmp_path / 'c'))
    assert report.errors == [
        f'{ann}: 1 annotations name an unknown image_id: annotation 4 -> image_id 9',
        f'{ann}: 1 annotations name an unknown category_id: annotation 5 -> category_id 7']
    with pytest.raises(PreflightError, match='unknown image_id: annotation 4'):
        preflight_config(coco_config(tmp_path), workers=1, cache_dir=str(tmp_path / 'c'),
                         log=lambda line: None)
    write_coco(tmp_path, CLEAN + [(1, 1, [1, 1, -5, 5])])
    report = preflight_coco(ann, str(tmp_path / 'images'), workers=1,
                            cache_dir=str(tmp_path / 'c'))
    assert report.errors == [f'{ann}: bbox is not 4 finite numbers [x, y, w, h] with w, h >= 0 '
                             'in annotations 4']  # as the config check refuses it
    # fields mmdet compares as numbers: an error naming the field, not a crash while loading
    for section, field_name, value in (('annotations', 'area', None),
                                       ('images', 'width', '64')):
        write_coco(tmp_path, CLEAN)
        with open(ann) as f:
            coco = json.load(f)
        coco[section][0][field_name] = value
        with open(ann, 'w') as f:
            json.dump(coco, f)
        report = preflight_coco(ann, str(tmp_path / 'images'), workers=1,
                                cache_dir=str(tmp_path / 'c'))
        assert report.errors == [f'{ann}: 1 {section} entries have a {field_name} that is not a '
                                 f'number (mmdet compares it), e.g. entry #0: {value!r}']
    with open(ann, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(PreflightError, match=rf'{ann} is not valid JSON') as error:
        preflight_config(coco_config(tmp_path), workers=1, cache_dir=str(tmp_path / 'c'),
                         log=lambda line: None)
    assert '--skip-bad-images' not in str(error.value)  # it would not skip a broken json


def test_skip_bad_images_is_suggested_only_for_the_problems_it_skips():
    def report(name, errors=(), bad_images=()):
        return DatasetReport(name=name, ann_file=f'{name}.json', img_prefix='images',
                             errors=list(errors), bad_images=[list(b) for b in bad_images])

    broken_json = report('val', errors=['val.json is not valid JSON: Expecting value'])
    unknown_id = report('test', errors=['test.json: 1 annotations name an unknown image_id'])
    cut = report('train', bad_images=[('2.jpg', 'truncated JPEG')])

    def message(reports, skip_bad_images=False):
        with pytest.raises(PreflightError) as error:
            raise_for(reports, skip_bad_images)
        return str(error.value)

    for reports in ([broken_json], [unknown_id], [broken_json, unknown_id]):
        assert '--skip-bad-images' not in message(reports)
    assert message([cut]).endswith('pass --skip-bad-images (skip_bad_images=True).')
    mixed = message([broken_json, cut])
    assert 'val.json is not valid JSON' in mixed and '2.jpg (truncated JPEG)' in mixed
    assert mixed.endswith('--skip-bad-images (skip_bad_images=True); it does not skip the '
                          'other problems: fix them in the data.')
    # with the option the bad images are no problem; the broken json still is, with no hint
    assert '--skip-bad-images' not in message([broken_json, cut], skip_bad_images=True)
    raise_for([cut], skip_bad_images=True)  # nothing left to raise


def test_boxes_mmdet_drops_outside_boxes_and_near_duplicates_are_reported(tmp_path):
    ann = write_coco(tmp_path, [(1, 1, [5, 5, 0, 10]), (1, 1, [70, 10, 5, 5]),
                                (2, 1, [50, 40, 20, 20]), (3, 2, [10, 10, 20, 20]),
                                (3, 2, [10, 10, 20, 21]), (3, 1, [10, 10, 20, 20])])
    report = preflight_coco(ann, str(tmp_path / 'images'), workers=1,
                            cache_dir=str(tmp_path / 'c'))
    assert report.errors == [] and report.bad_images == []
    assert report.dropped_boxes == [['1.jpg', 1, [5, 5, 0, 10], 'width or height < 1 px'],
                                    ['1.jpg', 2, [70, 10, 5, 5], 'no overlap with the image']]
    assert report.outside_boxes == [['2.jpg', 3, [50, 40, 20, 20]]]
    assert report.near_duplicates == [['3.jpg', 4, 5, 'dog', pytest.approx(400 / 420)]]
    assert 'near-duplicate box pairs' in report.summary()


def test_size_mismatch_and_class_checks(tmp_path):
    write_coco(tmp_path, CLEAN)
    write_image(str(tmp_path / 'images' / '2.jpg'), width=32, height=48)
    cfg = coco_config(tmp_path, classes=('dog', 'cat'))
    _, lines = lines_of(preflight_config, cfg, workers=1, cache_dir=str(tmp_path / 'c'))
    assert '  size mismatch: 2.jpg: json 64x48, decoded 32x48 (width x height)' in lines
    assert any(line.startswith('  warning: class order:') for line in lines)
    with pytest.raises(PreflightError, match=r"classes bird are not among the json's"):
        preflight_config(coco_config(tmp_path, classes=('cat', 'bird')), workers=1,
                         cache_dir=str(tmp_path / 'c'), log=lambda line: None)
    # classes as a file of names, one per line, as mmengine's BaseDataset reads a string
    names = tmp_path / 'classes.txt'
    names.write_text('cat\ndog\n')
    from asl_det.intake.preflight import dataset_classes
    cfg = coco_config(tmp_path, classes=str(names))
    assert dataset_classes(cfg.train_dataloader.dataset) == ['cat', 'dog']
    assert dataset_classes(dict(metainfo=dict(classes='cat'))) == ['cat']  # no such file
    preflight_config(cfg, workers=1, cache_dir=str(tmp_path / 'c'), log=lambda line: None)


def test_cache_hit_stats_only_and_changes_invalidate_it(tmp_path, counting_decoder):
    ann = write_coco(tmp_path, CLEAN)
    cache = str(tmp_path / 'c')
    images = str(tmp_path / 'images')
    first = preflight_coco(ann, images, workers=1, cache_dir=cache)
    assert sorted(counting_decoder) == ['1.jpg', '2.jpg', '3.jpg'] and not first.cached
    second = preflight_coco(ann, images, workers=1, cache_dir=cache)
    assert second.cached and len(counting_decoder) == 3  # not decoded again
    assert second.summary() == first.summary() + ' (cached)'
    truncate(osp.join(images, '2.jpg'))  # an image changes: only it is decoded again
    third = preflight_coco(ann, images, workers=1, cache_dir=cache)
    assert counting_decoder[3:] == ['2.jpg'] and not third.cached
    assert [f for f, _ in third.bad_images] == ['2.jpg']
    write_coco(tmp_path, CLEAN[:2])  # the ann file changes: checked again, images reused
    fourth = preflight_coco(ann, images, workers=1, cache_dir=cache)
    assert not fourth.cached and fourth.num_boxes == 2 and len(counting_decoder) == 4
    # replaced by a file of the same size and modification time (cp -p, rsync -a): checked
    path = osp.join(images, '3.jpg')
    before = os.stat(path)
    with open(path, 'r+b') as f:
        f.seek(before.st_size // 2)
        f.write(b'\x00' * 64)  # same size, corrupt pixels
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    preflight_coco(ann, images, workers=1, cache_dir=cache)
    assert counting_decoder[4:] == ['3.jpg']
    # a bad workers is refused also where every image is cached (nothing would be decoded)
    for workers, error in ((-1, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match=r'workers must be an integer'):
            preflight_coco(ann, images, workers=workers, cache_dir=cache)


def test_wrappers_parallel_decoding_and_non_json_data_sets(tmp_path, monkeypatch):
    write_coco(tmp_path, CLEAN)
    write_coco(tmp_path, CLEAN[:1], name='extra')
    inner = coco_config(tmp_path).train_dataloader.dataset
    train = dict(type='ConcatDataset', datasets=[
        dict(type='RepeatDataset', times=2, dataset=inner),
        dict(inner, ann_file='ann/extra.json'),
        dict(type='XMLDataset', ann_file='ImageSets/Main/train.txt', data_root=str(tmp_path))])
    monkeypatch.setenv('ASL_DET_CACHE', str(tmp_path / 'env_cache'))
    _, lines = lines_of(preflight_config, coco_config(tmp_path, train_dataset=train), workers=2)
    assert os.listdir(tmp_path / 'env_cache' / 'reports')  # ASL_DET_CACHE is the cache folder
    assert lines[0] == (f'preflight: train_dataloader.dataset.datasets[2]: {tmp_path}/'
                        'ImageSets/Main/train.txt is not a local COCO json: not checked')
    assert lines[1].startswith('preflight: train_dataloader.dataset.datasets[0].dataset: ')
    assert lines[2].startswith('preflight: train_dataloader.dataset.datasets[1]: ')
    assert lines[2].endswith('extra.json: 3 images, 1 boxes, 2 classes; no problems')
    assert len(lines) == 3  # val_dataloader's data set is datasets[0]'s: checked once
