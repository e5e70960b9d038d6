"""asl_det.intake.voc_conversion and tools/voc_to_coco.py on small generated VOC folders."""
import json
import os
import os.path as osp
import runpy
import sys

import pytest
from intake_fixtures import snapshot, truncate, voc_xml, write_image, write_voc
from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules

from asl_det.intake.coco_output import ConversionError, preflight_converted
from asl_det.intake.preflight import preflight_coco
from asl_det.intake.voc_conversion import VOCConversionError, convert_voc_to_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'voc_to_coco.py')

IMAGES = {
    'a': [('dog', 11, 21, 30, 41), ('cat', 1, 1, 64, 48)],
    'b': [('cat', 5, 5, 15, 25)],
    'c': [('dog', 2, 3, 12, 13, 1)],  # difficult
}


def load(path):
    with open(path) as f:
        return json.load(f)


def test_split_files_and_mmdet_coordinates(tmp_path):
    root = write_voc(tmp_path / 'voc', IMAGES, {'trainval': ['a', 'b'], 'test': ['c']})
    before = snapshot(root)
    summary = convert_voc_to_coco(root)
    out = osp.join(root, 'annotations_coco')
    assert summary.written == {'test': osp.join(out, 'test.json'),
                               'trainval': osp.join(out, 'trainval.json')}
    trainval = load(summary.written['trainval'])
    assert trainval['categories'] == [dict(id=1, name='cat', supercategory='none'),
                                      dict(id=2, name='dog', supercategory='none')]
    assert trainval['images'] == [
        dict(id=1, file_name='JPEGImages/a.jpg', width=64, height=48),
        dict(id=2, file_name='JPEGImages/b.jpg', width=64, height=48)]
    # mmdet's VOC convention: 1 off all four coordinates, w = xmax - xmin
    assert [(a['image_id'], a['category_id'], a['bbox'], a['area'], a['iscrowd'])
            for a in trainval['annotations']] == [
        (1, 2, [10, 20, 19, 20], 380, 0), (1, 1, [0, 0, 63, 47], 63 * 47, 0),
        (2, 1, [4, 4, 10, 20], 200, 0)]
    test = load(summary.written['test'])
    assert test['annotations'][0]['difficult'] == 1 and test['annotations'][0]['iscrowd'] == 0
    assert summary.difficult == 1 and summary.xml_boxes == 4
    assert summary.images == {'test': 1, 'trainval': 2}
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith('annotations_coco')} == before


def test_splits_converted_one_at_a_time_get_the_same_categories(tmp_path):
    """test holds only dogs: converted alone, its categories are still every split file's."""
    root = write_voc(tmp_path / 'voc', IMAGES, {'trainval': ['a', 'b'], 'test': ['c']})
    test = load(convert_voc_to_coco(root, splits=['test']).written['test'])
    assert [c['name'] for c in test['categories']] == ['cat', 'dog']
    assert [a['category_id'] for a in test['annotations']] == [2]
    # a bad file counts in neither: converted all at once, it is skipped (and listed)
    write_voc(tmp_path / 'voc2', dict(IMAGES, d=[('ant', 1, 1, 9, 9)]),
              {'trainval': ['a', 'b'], 'test': ['c', 'd']})
    with_bad = str(tmp_path / 'voc2')
    os.remove(osp.join(with_bad, 'JPEGImages', 'd.jpg'))
    everything = convert_voc_to_coco(with_bad, skip_bad_files=True)
    alone = convert_voc_to_coco(with_bad, splits=['trainval'], out_dir=str(tmp_path / 'alone'))
    assert everything.classes == alone.classes == ['cat', 'dog']
    assert alone.skipped_files == [] and alone.images == {'trainval': 2}
    assert alone.xml_boxes == 3  # the converted split's only
    # a random split of the XML files: every file is in a split already
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'random'),
                                  split_ratios={'trainval': 0.5, 'test': 0.5})
    assert summary.classes == ['cat', 'dog']


def test_output_loads_in_mmdet_coco_dataset(tmp_path):
    root = write_voc(tmp_path / 'voc', IMAGES, {'trainval': ['a', 'b']})
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'), classes=['dog', 'cat'])
    register_all_modules()
    dataset = DATASETS.build(dict(
        type='CocoDataset', data_root=root + '/', ann_file=summary.written['trainval'],
        data_prefix=dict(img=''), metainfo=dict(classes=('dog', 'cat')),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]))
    assert len(dataset) == 2
    item = dataset[0]
    assert item['img'].shape == (48, 64, 3)
    assert item['img_path'] == osp.join(root, 'JPEGImages', 'a.jpg')
    assert item['gt_bboxes'].tensor.tolist() == [[10, 20, 29, 40], [0, 0, 63, 47]]
    assert item['gt_bboxes_labels'].tolist() == [0, 1]  # --classes order: dog, cat


def test_degenerate_and_outside_boxes_are_reported(tmp_path):
    root = write_voc(tmp_path / 'voc', {
        'a': [('cat', 10, 10, 10, 20), ('cat', 5, 5, 70, 20), ('cat', 80, 60, 90, 70),
              ('cat', 3, 3, 9, 9)]}, {'train': ['a']})
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))
    assert summary.dropped_boxes == [['a.xml', 'cat', [9, 9, 0, 10], 'width or height < 1 px'],
                                     ['a.xml', 'cat', [79, 59, 10, 10],
                                      'no overlap with the image']]
    assert summary.outside_boxes == [['a.xml', 'cat', [4, 4, 65, 15]]]  # kept, as mmdet does
    boxes = [a['bbox'] for a in load(summary.written['train'])['annotations']]
    assert boxes == [[4, 4, 65, 15], [2, 2, 6, 6]]
    assert any('dropped box: a.xml' in line for line in summary.lines())


def test_unknown_class_is_an_error_or_listed_and_skipped(tmp_path):
    root = write_voc(tmp_path / 'voc', IMAGES, {'train': ['a', 'b']})
    with pytest.raises(VOCConversionError, match=r'a\.xml: dog'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'), classes=['cat'])
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'), classes=['cat'],
                                  skip_unknown_classes=True)
    assert summary.skipped_objects == [['a.xml', 'dog']]
    assert summary.boxes['train'] == {'cat': 2}


def test_malformed_xml_is_an_error_or_skipped(tmp_path):
    images = dict(IMAGES, d='<annotation><object><name>cat</name>', e=voc_xml(
        'e.jpg', []).replace('</annotation>', '<object><name>cat</name><bndbox><xmin>1</xmin>'
                             '</bndbox></object></annotation>'))
    root = write_voc(tmp_path / 'voc', images, {'train': ['a', 'd', 'e']})
    with pytest.raises(VOCConversionError, match=r'Annotations/d\.xml: not well-formed'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'), skip_bad_files=True)
    assert [osp.basename(f) for f, _ in summary.skipped_files] == ['d.xml', 'e.xml']
    assert 'lacks a numeric bndbox' in summary.skipped_files[1][1]
    assert summary.images == {'train': 1}
    d_xml = osp.join(root, 'Annotations', 'd.xml')
    line, = [line for line in summary.lines() if 'd.xml' in line]
    assert line.startswith(f'skipped file: {d_xml}: not well-formed XML (')  # the path once


@pytest.mark.parametrize('corners, shown', [
    ((60, 10, 20, 50), 'xmin 60 ymin 10 xmax 20 ymax 50'),  # x corners swapped
    ((10, 50, 20, 10), 'xmin 10 ymin 50 xmax 20 ymax 10'),
    (('nan', 10, 20, 50), 'xmin nan ymin 10 xmax 20 ymax 50'),
    ((10, 10, 'inf', 50), 'xmin 10 ymin 10 xmax inf ymax 50'),
])
def test_a_broken_bndbox_is_a_bad_file_not_a_small_box(tmp_path, corners, shown):
    root = write_voc(tmp_path / 'voc', dict(IMAGES, d=[('cat', *corners)]),
                     {'train': ['a', 'd']})
    with pytest.raises(VOCConversionError, match=rf'd\.xml: object #0 \(cat\): bndbox {shown}: '
                                                 r'coordinates must be finite with xmax >= xmin '
                                                 r'and ymax >= ymin'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'), skip_bad_files=True)
    assert [osp.basename(f) for f, _ in summary.skipped_files] == ['d.xml']
    assert summary.dropped_boxes == []
    with open(summary.written['train']) as f:
        assert 'NaN' not in f.read() and summary.images == {'train': 1}


def test_a_random_split_named_as_a_path_is_refused(tmp_path):
    root = write_voc(tmp_path / 'voc', IMAGES)
    with pytest.raises(ConversionError, match=r"split_ratios \(--split-ratios\): a split's "
                                                 r"name names its json file.*'\.\./x'"):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'),
                            split_ratios={'../x': 0.5, 'test': 0.5})
    assert not (tmp_path / 'x.json').exists()


def test_hidden_files_and_a_byte_order_mark_are_not_read_as_annotations(tmp_path):
    root = write_voc(tmp_path / 'voc', IMAGES)
    for folder, name in (('Annotations', '._a.xml'), ('JPEGImages', '._a.jpg'),
                         (osp.join('ImageSets', 'Main'), '._train.txt')):
        os.makedirs(osp.join(root, folder), exist_ok=True)
        with open(osp.join(root, folder, name), 'wb') as f:
            f.write(b'\x00\x05\x16\x07 AppleDouble')
    with open(osp.join(root, 'ImageSets', 'Main', 'train.txt'), 'w', encoding='utf-8-sig') as f:
        f.write('a\r\nb\r\n')
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))
    assert summary.images == {'train': 2} and summary.skipped_files == []
    everything = convert_voc_to_coco(root, out_dir=str(tmp_path / 'all'),
                                     split_ratios={'all': 1})
    assert everything.images == {'all': 3} and everything.skipped_files == []


def test_missing_split_files_give_a_seeded_split(tmp_path):
    stems = {f'img{i:02d}': [('cat', 2, 2, 20, 20)] for i in range(10)}
    root = write_voc(tmp_path / 'voc', stems)
    first = convert_voc_to_coco(root, out_dir=str(tmp_path / 'one'), seed=3)
    again = convert_voc_to_coco(root, out_dir=str(tmp_path / 'two'), seed=3)
    other = convert_voc_to_coco(root, out_dir=str(tmp_path / 'three'), seed=4)

    def names(summary, split):
        return [i['file_name'] for i in load(summary.written[split])['images']]
    assert first.images == {'trainval': 8, 'test': 2}
    assert names(first, 'test') == names(again, 'test')
    assert names(first, 'test') != names(other, 'test')
    assert sorted(names(first, 'test') + names(first, 'trainval')) == [
        f'JPEGImages/img{i:02d}.jpg' for i in range(10)]
    three = convert_voc_to_coco(root, out_dir=str(tmp_path / 'four'),
                                split_ratios={'train': 0.5, 'val': 0.3, 'test': 0.2})
    assert three.images == {'train': 5, 'val': 3, 'test': 2}
    with pytest.raises(VOCConversionError, match='must sum to 1'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'x'), split_ratios={'a': 0.5})
    with pytest.raises(VOCConversionError, match=r'ImageSets/Main/test\.txt'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'x'), splits=['test'])


def test_size_from_the_image_header_when_the_xml_has_none(tmp_path):
    root = write_voc(tmp_path / 'voc', {'a': ([('cat', 2, 2, 20, 20)], None),
                                        'b': ([('cat', 2, 2, 20, 20)], (0, 0))},
                     {'train': ['a', 'b']})
    images = load(convert_voc_to_coco(root, out_dir=str(tmp_path / 'o')).written['train'])
    assert [(i['width'], i['height']) for i in images['images']] == [(64, 48), (64, 48)]


def test_an_xml_size_that_differs_from_the_image_is_reported_and_the_images_one_written(
        tmp_path):
    """The json holds each image's size as loaded for training (EXIF orientation applied);
    an XML <size> that differs is listed; an unreadable image keeps the XML's size."""
    from PIL import Image

    from asl_det.intake.image_decoding import EXIF_ORIENTATION
    root = write_voc(tmp_path / 'voc', {'wrong': ([('cat', 2, 2, 20, 20)], (100, 80)),
                                        'turned': ([('cat', 2, 2, 20, 20)], (64, 48)),
                                        'right': ([('cat', 2, 2, 20, 20)], (64, 48)),
                                        'unreadable': ([('cat', 2, 2, 20, 20)], (30, 20))},
                     {'train': ['right', 'turned', 'unreadable', 'wrong']})
    path = osp.join(root, 'JPEGImages', 'turned.jpg')
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # stored 64 x 48, loaded turned a quarter: 48 x 64
    with Image.open(path) as image:
        image.load()
        image.save(path, exif=exif)
    with open(osp.join(root, 'JPEGImages', 'unreadable.jpg'), 'wb') as f:
        f.write(b'not an image')
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'o'))
    images = load(summary.written['train'])['images']
    assert [(i['width'], i['height']) for i in images] == [(64, 48), (48, 64), (30, 20), (64, 48)]
    assert summary.size_mismatches == [['turned.xml', [64, 48], [48, 64]],
                                       ['wrong.xml', [100, 80], [64, 48]]]
    assert 'size mismatch: wrong.xml: <size> 100x80, image 64x48 (width x height; the json ' \
        "has the image's: check the boxes)" in summary.lines()


@pytest.mark.parametrize('mode,expected', [('ignore', [0, 0, 1]), ('drop', [0, 0])])
def test_difficult_modes(tmp_path, mode, expected):
    root = write_voc(tmp_path / 'voc', IMAGES, {'train': ['a', 'c']})
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'o'), difficult=mode)
    assert [a['iscrowd'] for a in load(summary.written['train'])['annotations']] == expected


def test_tool_runs_the_preflight_on_what_it_wrote(tmp_path, monkeypatch, capsys):
    root = write_voc(tmp_path / 'voc', IMAGES, {'trainval': ['a', 'b'], 'test': ['c']})
    truncate(osp.join(root, 'JPEGImages', 'b.jpg'))
    monkeypatch.setenv('ASL_DET_CACHE', str(tmp_path / 'cache'))
    argv = [TOOL, root, '--out', str(tmp_path / 'out'), '--workers', '1']
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit, match=r'JPEGImages/b\.jpg'):
        runpy.run_path(TOOL, run_name='__main__')
    assert 'trainval: 2 images, 3 boxes' in capsys.readouterr().out
    monkeypatch.setattr(sys, 'argv', argv + ['--no-preflight'])
    runpy.run_path(TOOL, run_name='__main__')
    assert sorted(os.listdir(tmp_path / 'out')) == ['test.json', 'trainval.json']


def test_an_annots_folder_with_ann_dir(tmp_path, monkeypatch):
    root = write_voc(tmp_path / 'voc', IMAGES, {'trainval': ['a', 'b']})
    os.rename(osp.join(root, 'Annotations'), osp.join(root, 'annots'))
    with pytest.raises(VOCConversionError, match=r'^ann_dir \(--ann-dir\): .*/Annotations is not '
                                                 r'a folder; \.xml files are in annots/ under'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'), ann_dir='annots')
    assert summary.images == {'trainval': 2} and summary.xml_boxes == 3
    monkeypatch.setattr(sys, 'argv', [TOOL, root, '--ann-dir', 'annots', '--out',
                                      str(tmp_path / 'tool'), '--no-preflight'])
    runpy.run_path(TOOL, run_name='__main__')
    assert load(tmp_path / 'tool' / 'trainval.json') == load(summary.written['trainval'])


def test_a_flat_folder_each_image_beside_its_xml(tmp_path):
    root = tmp_path / 'flat'
    for i, (stem, objects) in enumerate(IMAGES.items()):
        write_image(str(root / f'{stem}.jpg'), seed=i)
        (root / f'{stem}.xml').write_text(voc_xml(f'{stem}.jpg', objects))
    with pytest.raises(VOCConversionError, match=r'\.xml files are in \./ under .*flat \("\." = '
                                                 'beside the other files: a flat folder'):
        convert_voc_to_coco(str(root))
    summary = convert_voc_to_coco(str(root), ann_dir='.', img_dir='.', split_ratios={'all': 1})
    assert summary.written == {'all': str(root / 'annotations_coco' / 'all.json')}
    coco = load(summary.written['all'])
    assert [image['file_name'] for image in coco['images']] == ['a.jpg', 'b.jpg', 'c.jpg']
    assert [a['bbox'] for a in coco['annotations']][:2] == [[10, 20, 19, 20], [0, 0, 63, 47]]
    register_all_modules()
    dataset = DATASETS.build(dict(
        type='CocoDataset', data_root=str(root) + '/', ann_file=summary.written['all'],
        data_prefix=dict(img=''), metainfo=dict(classes=('cat', 'dog')),
        pipeline=[dict(type='LoadImageFromFile')]))
    assert dataset[2]['img_path'] == str(root / 'c.jpg')


def test_a_split_left_without_images_is_warned_about_and_refused(tmp_path):
    root = write_voc(tmp_path / 'voc', {'a': IMAGES['a']})
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'one'))  # 0.8 / 0.2 of 1 file
    assert summary.images == {'trainval': 1, 'test': 0}
    assert summary.empty_splits == {'test': "a random split {'trainval': 0.8, 'test': 0.2} of 1 "
                                            'XML files (seed 0) gives it none: use more files '
                                            'or other ratios'}
    warning, = [line for line in summary.lines() if line.startswith('warning:')]
    assert warning.startswith("warning: split 'test' has 0 images (a random split ")
    assert f'{tmp_path}/one/test.json is written, but the pre-flight' in warning
    root = write_voc(tmp_path / 'skipped', dict(IMAGES, d='<annotation>'),
                     {'train': ['a'], 'test': ['d']})
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'two'), skip_bad_files=True)
    assert summary.empty_splits == {'test': 'all 1 XML files listed for it were skipped'}
    # the converter's own pre-flight leaves it out (warned); a config that reads it is refused
    cache = str(tmp_path / 'cache')
    reports = preflight_converted(summary, root, workers=1, cache_dir=cache, log=lambda _: None)
    assert [report.name for report in reports] == ['train.json']
    report = preflight_coco(summary.written['test'], root, 'test.json', cache_dir=cache)
    assert report.errors == [f'{summary.written["test"]} has 0 images: a data set built from it '
                             'is empty, nothing to train or evaluate on (convert with more files, '
                             'or point the config to another split)']


def test_images_sharing_a_name_pair_by_filename_or_are_refused(tmp_path):
    root = tmp_path / 'flat'
    write_image(str(root / 'a.jpg'), seed=0)
    write_image(str(root / 'a.png'), seed=1)  # e.g. a mask beside the photograph
    (root / 'a.xml').write_text(voc_xml('a.jpg', [('cat', 11, 21, 30, 40)]))
    convert = dict(ann_dir='.', img_dir='.', split_ratios={'all': 1})
    summary = convert_voc_to_coco(str(root), **convert)
    assert [i['file_name'] for i in load(summary.written['all'])['images']] == ['a.jpg']
    (root / 'a.xml').write_text(voc_xml('elsewhere/a.tif', [('cat', 11, 21, 30, 40)]))
    with pytest.raises(VOCConversionError, match=r"a\.xml: <filename> 'a\.tif' is none of the "
                                                 r"images, and several are named a\.\*"):
        convert_voc_to_coco(str(root), **convert)


def test_an_xml_pairs_with_the_image_of_its_own_name_and_no_image_twice(tmp_path):
    """As mmdet's VOC readers pair them: b.xml copied from a.xml as a template (its <filename>
    still a.jpg) annotates b.jpg; an XML named otherwise pairs through <filename>, unless
    that image has its own XML; images without an XML are listed."""
    images = {'a': [('cat', 2, 2, 20, 20)], 'b': [('dog', 5, 5, 15, 25)],
              'c': [('cat', 1, 1, 9, 9)]}
    root = write_voc(tmp_path / 'voc', images, {'all': ['a', 'b']})
    (tmp_path / 'voc' / 'Annotations' / 'b.xml').write_text(
        voc_xml('a.jpg', [('dog', 5, 5, 15, 25)]))
    os.remove(osp.join(root, 'Annotations', 'c.xml'))
    write_image(osp.join(root, 'JPEGImages', 'photo_7.jpg'), seed=9)
    (tmp_path / 'voc' / 'Annotations' / 'label_7.xml').write_text(
        voc_xml('photo_7.jpg', [('cat', 3, 3, 13, 13)]))
    summary = convert_voc_to_coco(root, split_ratios={'all': 1})
    coco = load(summary.written['all'])
    assert [i['file_name'] for i in coco['images']] == [
        'JPEGImages/a.jpg', 'JPEGImages/b.jpg', 'JPEGImages/photo_7.jpg']
    assert summary.images_without_xml == ['JPEGImages/c.jpg']
    assert 'image without an XML (not converted): JPEGImages/c.jpg' in summary.lines()
    # an XML whose <filename> names an image that its own XML annotates: a bad file
    (tmp_path / 'voc' / 'Annotations' / 'copy.xml').write_text(
        voc_xml('a.jpg', [('cat', 3, 3, 13, 13)]))
    with pytest.raises(VOCConversionError, match=r'copy\.xml: its <filename> names '
                                                 r'JPEGImages/a\.jpg, which a\.xml annotates'):
        convert_voc_to_coco(root, split_ratios={'all': 1})
    skipped = convert_voc_to_coco(root, split_ratios={'all': 1}, skip_bad_files=True)
    assert [path for path, _ in skipped.skipped_files] == [
        osp.join(root, 'Annotations', 'copy.xml')]
    assert load(skipped.written['all'])['images'] == coco['images']


def test_xml_declaring_entities_is_refused(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            + voc_xml('d.jpg', []).replace('<filename>', '<folder>&b;</folder><filename>'))
    root = write_voc(tmp_path / 'voc', dict(IMAGES, d=bomb), {'train': ['a', 'd']})
    with pytest.raises(VOCConversionError, match=r'd\.xml: declares XML entities'):
        convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))


def test_per_class_lists_are_not_splits_but_a_split_named_like_one_is(tmp_path):
    root = write_voc(tmp_path / 'voc', IMAGES, {'val': ['a', 'b'], 'mini_val': ['c']})
    main = osp.join(root, 'ImageSets', 'Main')
    with open(osp.join(main, 'cat_val.txt'), 'w') as f:  # VOC's per-class list of val
        f.write('a  1\nb -1\n')
    summary = convert_voc_to_coco(root, out_dir=str(tmp_path / 'out'))
    assert summary.images == {'mini_val': 1, 'val': 2}
