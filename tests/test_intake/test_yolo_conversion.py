"""asl_det.intake.yolo_conversion and tools/yolo_to_coco.py on small generated YOLO sets."""
import json
import os
import os.path as osp
import re
import runpy
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from intake_fixtures import snapshot, write_image, write_yolo
from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules
from PIL import Image

from asl_det.intake import image_decoding
from asl_det.intake.coco_output import ConversionError
from asl_det.intake.yolo_conversion import (
    YOLOConversionError,
    convert_yolo_folder,
    convert_yolo_to_coco,
    label_path,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'yolo_to_coco.py')

DICT_NAMES_YAML = """\
path: .
train: images/train
val: images/val
nc: 2
names:
  0: cat
  1: dog
"""
# every report: a box inside, one partly outside, a zero-width one, a polygon (read as the box
# of its points), an unknown class id (a.txt); bad lines: pixel coordinates, not numbers, 6
# values (b.txt); an image without label file (c.png); a label file without image (orphan.txt,
# below); labelImg's classes.txt (misspelt, not used)
LABELS = {
    'train/a.jpg': ('0 0.5 0.5 0.25 0.5\n1 0.05 0.5 0.2 0.5\n0 0.5 0.5 0 0.5\n'
                    '1 0.1 0.3 0.3 0.1 0.3 0.2 0.1 0.1\n5 0.5 0.5 0.1 0.1\n'),
    'train/b.jpg': '0 0.5 0.5 0.2 0.2\n0 32 24 16 12\n1 a b c d\n\n0 0.1 0.2 0.3 0.4 0.5\n',
    'train/c.png': None,
    'val/d.jpg': '1 0.5 0.5 0.5 0.5\n',
}
B_PROBLEMS = ("line 2: 32, 24, 16, 12: normalised values must be in [0, 1] (pixel coordinates? "
              "YOLO labels divide by the image size); line 3: not numbers: '1 a b c d'; line 5: "
              "6 values, expected 5 (class cx cy w h) or an odd number >= 7 (class x1 y1 x2 y2 "
              "x3 y3 ..., a polygon)")


def load(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def yolo(tmp_path):
    data_yaml = write_yolo(tmp_path / 'yolo', LABELS, yaml_text=DICT_NAMES_YAML,
                           classes_txt=['cat', 'dogs'])
    with open(tmp_path / 'yolo' / 'labels' / 'train' / 'orphan.txt', 'w') as f:
        f.write('0 0.5 0.5 0.1 0.1\n')
    return data_yaml


def test_label_path_is_ultralytics_rule():
    assert label_path('/d/images/train/a.b.jpg') == '/d/labels/train/a.b.txt'
    assert label_path('/images/x/images/val/a.png') == '/images/x/labels/val/a.txt'  # the last
    assert label_path('/d/train/images/a.jpg') == '/d/train/labels/a.txt'  # Roboflow's layout
    assert label_path('/d/pics/a.jpg') == '/d/pics/a.txt'  # no images folder: beside


def test_bad_files_then_unknown_classes_are_errors_naming_file_and_line(yolo, tmp_path):
    out = str(tmp_path / 'out')
    with pytest.raises(YOLOConversionError) as error:
        convert_yolo_to_coco(yolo, out)
    message = str(error.value)
    assert message.startswith('2 label files or images cannot be converted:')
    assert f'labels/train/b.txt: {B_PROBLEMS}' in message
    assert "labels/train/orphan.txt: no image of split 'train'" in message
    assert '--skip-bad-files' in message
    with pytest.raises(YOLOConversionError, match=r"class ids without a name \(names \{0: 'cat', "
                                                  r"1: 'dog'\} from .*labels/train/a\.txt:5: "
                                                  r'class 5 \(1 in all\)'):
        convert_yolo_to_coco(yolo, out, skip_bad_files=True)
    assert not osp.exists(out)  # nothing written before the errors


def test_every_report_and_the_boxes_in_pixels(yolo, tmp_path):
    before = snapshot(osp.dirname(yolo))
    summary = convert_yolo_to_coco(yolo, str(tmp_path / 'out'), skip_bad_files=True,
                                   skip_unknown_classes=True)
    assert snapshot(osp.dirname(yolo)) == before  # the input is only read
    assert summary.classes == ['cat', 'dog']  # data.yaml's dict, not classes.txt's spelling
    assert summary.names_source == f'{yolo} (names)'
    assert summary.notes == [f"{osp.dirname(yolo)}/labels/classes.txt lists ['cat', 'dogs']: "
                             'not used (a labelImg class list)']
    assert summary.skipped_files == [
        ['labels/train/b.txt', B_PROBLEMS],
        ['labels/train/orphan.txt', "no image of split 'train' (train: images/train) has this "
                                    'label file']]
    assert summary.unknown_classes == [['labels/train/a.txt:5', 5]]
    assert summary.dropped_boxes == [
        ['labels/train/a.txt:3', 'cat', [32, 12, 0, 24], 'width or height < 1 px']]
    assert summary.outside_boxes == [['labels/train/a.txt:2', 'dog', [-3.2, 12, 12.8, 24]]]
    assert summary.unlabelled_images == ['images/train/c.png']
    assert summary.images == {'train': 2, 'val': 1} and summary.label_lines == 6
    assert summary.polygon_lines == 1
    assert summary.boxes == {'train': {'cat': 1, 'dog': 2}, 'val': {'cat': 0, 'dog': 1}}
    assert summary.empty_splits == {}
    train = load(summary.written['train'])
    assert train['categories'] == [dict(id=1, name='cat', supercategory='none'),
                                   dict(id=2, name='dog', supercategory='none')]
    assert train['images'] == [dict(id=1, file_name='images/train/a.jpg', width=64, height=48),
                               dict(id=2, file_name='images/train/c.png', width=64, height=48)]
    assert [(a['image_id'], a['category_id'], a['bbox'], a['area'])
            for a in train['annotations']] == [(1, 1, [24, 12, 16, 24], 384),
                                               (1, 2, [-3.2, 12, 12.8, 24], pytest.approx(307.2)),
                                               (1, 2, [6.4, 4.8, 12.8, 9.6],
                                                pytest.approx(122.88))]
    lines = summary.lines()
    assert any(line.startswith('6 box lines in the label files (1 of them polygons, each read '
                               'as the box of its points); class names from') for line in lines)
    assert f'skipped file: labels/train/b.txt: {B_PROBLEMS}' in lines
    assert 'box partly outside the image (kept): labels/train/a.txt:2: dog: [-3.2, 12, 12.8, 24]' \
        in lines
    assert 'image without a label file (kept, no boxes): images/train/c.png' in lines

    register_all_modules()  # the json loads in mmdet, boxes as Ultralytics' xywhn2xyxy gives
    dataset = DATASETS.build(dict(
        type='CocoDataset', data_root=osp.dirname(yolo) + '/', ann_file=summary.written['train'],
        data_prefix=dict(img=''), metainfo=dict(classes=('cat', 'dog')),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]))
    item = dataset[0]
    assert item['img'].shape == (48, 64, 3)
    expected = [[64 * (cx - w / 2), 48 * (cy - h / 2), 64 * (cx + w / 2), 48 * (cy + h / 2)]
                for cx, cy, w, h in ((0.5, 0.5, 0.25, 0.5), (0.05, 0.5, 0.2, 0.5),
                                     (0.2, 0.2, 0.2, 0.2))]
    assert item['gt_bboxes'].tensor.flatten().tolist() == pytest.approx(
        [v for box in expected for v in box], abs=1e-3)
    assert item['gt_bboxes_labels'].tolist() == [0, 1, 1]
    assert len(dataset[1]['gt_bboxes']) == 0  # c.png: no label file, no boxes


def test_one_folder_classes_txt_and_given_classes(yolo, tmp_path):
    images = osp.join(osp.dirname(yolo), 'images', 'val')
    summary = convert_yolo_folder(images, out_dir=str(tmp_path / 'out'))
    assert summary.written == {'val': str(tmp_path / 'out' / 'val.json')}
    assert summary.classes == ['cat', 'dogs']  # nothing else: labelImg's list
    assert summary.names_source == osp.join(osp.dirname(yolo), 'labels', 'classes.txt')
    assert load(summary.written['val'])['images'][0]['file_name'] == 'images/val/d.jpg'
    given = convert_yolo_folder(images, osp.join(osp.dirname(yolo), 'labels', 'val'),
                                split='check', out_dir=str(tmp_path / 'out'),
                                classes=['cat', 'dog'])
    assert given.classes == ['cat', 'dog'] and given.names_source == 'classes (--classes)'
    assert given.notes[0].endswith("classes.txt lists ['cat', 'dogs']: not used (a labelImg "
                                   'class list)')
    assert list(given.written) == ['check']
    # saved by Windows Notepad: a byte-order mark before the first name
    classes_txt = osp.join(osp.dirname(yolo), 'labels', 'classes.txt')
    with open(classes_txt, 'w', encoding='utf-8-sig') as f:
        f.write('cat\r\ndogs\r\n')
    assert convert_yolo_folder(images, out_dir=str(tmp_path / 'bom')).classes == ['cat', 'dogs']


def test_txt_lists_roboflow_paths_and_list_names(tmp_path):
    root = tmp_path / 'rf'
    for split, name in (('train', 'x.jpg'), ('train', 'y.jpg'), ('valid', 'z.jpg')):
        write_image(str(root / split / 'images' / name))
        os.makedirs(root / split / 'labels', exist_ok=True)
        (root / split / 'labels' / (name[0] + '.txt')).write_text('0 0.5 0.5 0.5 0.5\n')
    (root / 'val.txt').write_text('./valid/images/z.jpg\ntrain/images/y.jpg\n')
    (root / 'data.yaml').write_text('train: ../train/images\nval: val.txt\nnames: [cell]\n')
    summary = convert_yolo_to_coco(str(root / 'data.yaml'))
    assert summary.written['train'] == str(root / 'annotations_coco' / 'train.json')
    assert [i['file_name'] for i in load(summary.written['val'])['images']] == [
        'valid/images/z.jpg', 'train/images/y.jpg']
    assert summary.boxes == {'train': {'cell': 2}, 'val': {'cell': 2}}
    assert summary.classes == ['cell']


@pytest.mark.parametrize('split', ['../userfile', '.hidden', 'a/b', ''])
def test_a_split_name_that_is_no_file_name_is_refused_before_anything_is_written(tmp_path,
                                                                               split):
    write_yolo(tmp_path / 'y', {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'})
    (tmp_path / 'userfile.json').write_text('mine')
    with pytest.raises(ConversionError, match=r"split \(--split\): a split's name names "
                                                  r'its json file'):
        convert_yolo_folder(str(tmp_path / 'y' / 'images' / 'train'), split=split,
                            classes=['cell'], out_dir=str(tmp_path / 'out'))
    assert (tmp_path / 'userfile.json').read_text() == 'mine'
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('folder', ['images', 'labels'])
def test_the_output_folder_is_no_input_folder(tmp_path, folder):
    write_yolo(tmp_path / 'y', {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'})
    out_dir = str(tmp_path / 'y' / folder / 'train')
    with pytest.raises(ConversionError, match=r'out_dir \(--out\) .* is the input folder'):
        convert_yolo_folder(str(tmp_path / 'y' / 'images' / 'train'), classes=['cell'],
                            out_dir=out_dir)
    assert not any(name.endswith('.json') for name in os.listdir(out_dir))


def test_hidden_files_are_not_read_as_ultralytics_glob_leaves_them(tmp_path):
    data_yaml = write_yolo(tmp_path / 'y', {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'}, names=['cell'])
    root = tmp_path / 'y'
    (root / 'images' / 'train' / '._a.jpg').write_bytes(b'\x00\x05\x16\x07 AppleDouble')
    (root / 'labels' / 'train' / '._a.txt').write_bytes(b'\x00\x05\x16\x07')
    write_image(str(root / 'images' / 'train' / '.ipynb_checkpoints' / 'b.jpg'))
    summary = convert_yolo_to_coco(data_yaml, str(tmp_path / 'out'))
    assert summary.images == {'train': 1} and summary.skipped_files == []
    assert summary.boxes == {'train': {'cell': 1}}


def test_list_lines_relative_to_the_data_root_are_found(tmp_path):
    """A list in its own folder whose lines are relative to the data root (Ultralytics reads
    them from where it runs); ./ lines stay relative to the list's folder."""
    root = tmp_path / 'y'
    write_yolo(root, {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n', 'train/b.jpg': '0 0.5 0.5 0.5 0.5\n'})
    (root / 'lists').mkdir()
    (root / 'lists' / 'train.txt').write_text('images/train/a.jpg\n./../images/train/b.jpg\n')
    (root / 'data.yaml').write_text('train: lists/train.txt\nnames: [cell]\n')
    summary = convert_yolo_to_coco(str(root / 'data.yaml'), str(tmp_path / 'out'))
    assert [i['file_name'] for i in load(summary.written['train'])['images']] == [
        'images/train/a.jpg', 'images/train/b.jpg']
    assert summary.skipped_files == []


def test_an_image_list_saved_with_a_byte_order_mark(tmp_path):
    root = tmp_path / 'y'
    write_yolo(root, {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'})
    with open(root / 'train.txt', 'w', encoding='utf-8-sig') as f:
        f.write('images/train/a.jpg\r\n')
    (root / 'data.yaml').write_text('train: train.txt\nnames: [cell]\n')
    summary = convert_yolo_to_coco(str(root / 'data.yaml'), str(tmp_path / 'out'))
    assert summary.boxes == {'train': {'cell': 1}} and summary.skipped_files == []


def test_every_image_skipped_is_not_reported_as_a_missing_label_layout(tmp_path):
    data_yaml = write_yolo(tmp_path / 'y', {'train/a.jpg': '0 50 40 20 10\n'}, names=['cell'])
    summary = convert_yolo_to_coco(data_yaml, str(tmp_path / 'out'), skip_bad_files=True)
    assert summary.skipped_files == [['labels/train/a.txt', 'line 1: 50, 40, 20, 10: normalised '
                                      'values must be in [0, 1] (pixel coordinates? YOLO labels '
                                      'divide by the image size)']]
    assert not any('has a label file' in line for line in summary.lines())


@pytest.mark.parametrize('line, problem', [
    ('0 0.5 0.5 -0.2 0.2', '-0.2: normalised values must be in [0, 1]'),
    ('0 0.5 1.0001 0.2 0.2', '1.0001: normalised values must be in [0, 1]'),
    ('0 0.1 0.1 0.5 0.1 0.5 1.5 0.1 0.5',
     '1.4 (of the box of its points): normalised values must be in [0, 1]'),
    ('0 0.1 0.1 0.5 0.1 0.5 1.0004 0.1 0.1', None),  # a point past 1, its box within: kept
    ('0 0.5 0.5 1.0000000000000002 0.3', None),  # 1 in float32, as Ultralytics compares
    ('0 0.1 0.1 0.5 0.1 0.5 0.5 0.1', '8 values, expected 5'),
    ('0 0.1 0.1 0.5 0.1', None),
])
def test_label_values_outside_the_unit_range_are_bad_lines(tmp_path, line, problem):
    data_yaml = write_yolo(tmp_path / 'y', {'train/a.jpg': line + '\n'}, names=['cell'])
    if problem is None:
        summary = convert_yolo_to_coco(data_yaml, str(tmp_path / 'out'))
        assert summary.skipped_files == [] and summary.label_lines == 1
        return
    with pytest.raises(YOLOConversionError, match=re.escape(f'line 1: {problem}')):
        convert_yolo_to_coco(data_yaml, str(tmp_path / 'out'))


def roboflow_split(root, names=('x.jpg', 'y.jpg')):
    """``root/train/{images,labels}/`` with one box per image."""
    for name in names:
        write_image(str(root / 'train' / 'images' / name))
        os.makedirs(root / 'train' / 'labels', exist_ok=True)
        (root / 'train' / 'labels' / (osp.splitext(name)[0] + '.txt')).write_text(
            '0 0.5 0.5 0.5 0.5\n')


def test_a_folder_above_images_takes_each_images_label_by_ultralytics_rule(tmp_path):
    roboflow_split(tmp_path / 'rf')
    summary = convert_yolo_folder(str(tmp_path / 'rf' / 'train'), classes=['cell'],
                                  out_dir=str(tmp_path / 'out'))
    assert summary.boxes == {'train': {'cell': 2}} and summary.skipped_files == []


def test_a_relative_root_finds_every_label_file(tmp_path, monkeypatch):
    roboflow_split(tmp_path / 'rf')
    (tmp_path / 'rf' / 'data.yaml').write_text('path: ../elsewhere\ntrain: train/images\n'
                                               'names: [cell]\n')
    monkeypatch.chdir(tmp_path)
    summary = convert_yolo_to_coco('rf/data.yaml', root='rf', out_dir='out')
    assert summary.boxes == {'train': {'cell': 2}} and summary.skipped_files == []
    assert [i['file_name'] for i in load('out/train.json')['images']] == [
        'train/images/x.jpg', 'train/images/y.jpg']


def test_the_current_folder_as_root_finds_every_label_file(tmp_path, monkeypatch):
    """root '.': the image paths start with images/ (no folder before it)."""
    write_yolo(tmp_path, {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'}, names=['cell'])
    monkeypatch.chdir(tmp_path)
    summary = convert_yolo_to_coco('data.yaml', root='.', out_dir='out')
    assert summary.boxes == {'train': {'cell': 1}}


@pytest.mark.parametrize('name', ['r.jpg', 'r.tiff'])  # PIL sizes a TIFF turned already
def test_exif_orientation_sizes_as_the_loader_sees_them(tmp_path, name):
    root = tmp_path / 'exif'
    write_yolo(root, {f'train/{name}': '0 0.5 0.5 0.5 0.5\n'}, names=['cell'])
    path = str(root / 'images' / 'train' / name)
    exif = Image.Exif()
    exif[image_decoding.EXIF_ORIENTATION] = 6  # stored 64 x 48, shown turned a quarter
    with Image.open(path) as image:
        image.load()
        image.save(path, exif=exif)
    assert image_decoding.loaded_size(path) == (48, 64)
    assert image_decoding.decode_image(path)[:2] == (64, 48)  # mmcv: height 64, width 48
    summary = convert_yolo_to_coco(str(root / 'data.yaml'))
    coco = load(summary.written['train'])
    assert (coco['images'][0]['width'], coco['images'][0]['height']) == (48, 64)
    assert coco['annotations'][0]['bbox'] == [12, 16, 24, 32]


def test_an_image_above_pils_decompression_bomb_limit_is_sized(tmp_path):
    """A 200-megapixel image (1 bit per pixel, 25 MB in memory): OpenCV loads such images, so
    the converters size it rather than fail, and PIL's limit is left as it was."""
    path = str(tmp_path / 'huge.png')
    limit = Image.MAX_IMAGE_PIXELS
    assert 20000 * 10000 > 2 * limit  # beyond it, PIL's Image.open refuses a file
    Image.MAX_IMAGE_PIXELS = None
    try:
        Image.new('1', (20000, 10000)).save(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    assert image_decoding.loaded_size(path) == (20000, 10000)
    assert Image.MAX_IMAGE_PIXELS == limit


def test_images_above_the_limit_are_sized_from_several_threads_and_the_limit_restored(tmp_path):
    """Concurrent calls: none opens its file with the limit back in force (DecompressionBombError)
    and the last one leaves PIL's limit as it was, not lifted."""
    path = str(tmp_path / 'huge.png')
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        Image.new('1', (20000, 10000)).save(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        with ThreadPoolExecutor(8) as pool:
            sizes = list(pool.map(lambda _: image_decoding.loaded_size(path), range(400)))
    finally:
        sys.setswitchinterval(interval)
    assert set(sizes) == {(20000, 10000)}
    assert Image.MAX_IMAGE_PIXELS == limit


def test_an_image_whose_header_pil_refuses_with_another_error_is_a_bad_file(tmp_path):
    """PIL raises ValueError (not OSError) for a broken PNG header: a bad file like any other
    unreadable image, not a crash."""
    yaml_path = write_yolo(tmp_path / 'y', {'train/a.png': '0 0.5 0.5 0.5 0.5\n',
                                            'train/b.png': '0 0.5 0.5 0.5 0.5\n'}, names=['c'])
    broken = tmp_path / 'y' / 'images' / 'train' / 'b.png'
    broken.write_bytes(broken.read_bytes()[:8] + b'\x00\x00\x00\x02IHDR\x00\x00')
    with pytest.raises(YOLOConversionError, match=r'b\.png: cannot be read as an image '
                                                  r'\(ValueError: '):
        convert_yolo_to_coco(yaml_path, str(tmp_path / 'out'))
    summary = convert_yolo_to_coco(yaml_path, str(tmp_path / 'out'), skip_bad_files=True)
    assert summary.images == {'train': 1} and len(summary.skipped_files) == 1


@pytest.mark.parametrize('yaml_text,given,match', [
    ('train: images/train\nnc: 3\nnames: [a, b]\n', None, 'nc is 3 but names has 2'),
    ('train: images/train\nnames: {0: a, 2: b}\n', None, r'class ids must be 0\.\.1, got \[0, 2\]'),
    ('train: images/train\nnames: [a, b]\n', ['b', 'a'], r"differ from the names of"),
    ('train: images/train\nnames: [a, a]\n', None, 'repeat a name'),
    ('train: images/train\n', None, r'no class names: .*--classes'),
    ('train: images/nowhere\nnames: [a]\n', None, r'train: .*images/nowhere does not exist'),
    ('path: /no/such/root\ntrain: images/train\nnames: [a]\n', None,
     r'path: /no/such/root is not a folder; give the data root'),
    ('val: images/train\nnames: [a]\n', None, r"names no split \['train'\]; it has \['val'\]"),
])
def test_data_yaml_errors(tmp_path, yaml_text, given, match):
    data_yaml = write_yolo(tmp_path / 'y', {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'},
                           yaml_text=yaml_text)
    splits = ['train'] if 'val:' in yaml_text else None
    with pytest.raises(YOLOConversionError, match=match):
        convert_yolo_to_coco(data_yaml, str(tmp_path / 'out'), splits=splits, classes=given)


def test_an_empty_split_is_written_with_a_warning(tmp_path):
    data_yaml = write_yolo(tmp_path / 'y', {'train/a.jpg': '0 0.5 0.5 0.5 0.5\n'},
                           yaml_text='train: images/train\nval: images/val\nnames: [a]\n')
    os.makedirs(tmp_path / 'y' / 'images' / 'val')
    summary = convert_yolo_to_coco(data_yaml, str(tmp_path / 'out'))
    assert summary.images == {'train': 1, 'val': 0}
    assert summary.empty_splits == {'val': 'val: images/val holds no images'}
    assert summary.lines()[-1].startswith("warning: split 'val' has 0 images (val: images/val "
                                          f'holds no images); {tmp_path}/out/val.json is written')


def test_tool_converts_and_runs_the_preflight(yolo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('ASL_DET_CACHE', str(tmp_path / 'cache'))
    argv = [TOOL, yolo, '--out-dir', str(tmp_path / 'out'), '--workers', '1']
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit, match=r'^error: 2 label files or images cannot be'):
        runpy.run_path(TOOL, run_name='__main__')
    monkeypatch.setattr(sys, 'argv', argv + ['--skip-bad-files', '--skip-unknown-classes'])
    runpy.run_path(TOOL, run_name='__main__')
    out = capsys.readouterr().out
    assert 'train: 2 images, 3 boxes (cat 1, dog 2)' in out
    assert 'preflight: train.json: ' in out and 'boxes partly outside the image (kept' in out
    assert sorted(os.listdir(tmp_path / 'out')) == ['train.json', 'val.json']


@pytest.mark.parametrize('tool, argv, message', [
    ('yolo_to_coco.py', ['data.yaml', '--splits', 'train', 'train'],
     '--splits must differ: train given more than once'),
    ('voc_to_coco.py', ['voc', '--split-ratios', 'a=0.5', 'a=0.5'],
     'the splits of --split-ratios must differ: a given more than once'),
    ('voc_to_coco.py', ['voc', '--seed', '-1'], 'argument --seed: the value must be an integer')])
def test_converter_options_given_twice_or_out_of_range_are_usage_errors(
        tmp_path, monkeypatch, capsys, tool, argv, message):
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_status:
        runpy.run_path(osp.join(REPO, 'tools', tool), run_name='__main__')
    assert exit_status.value.code == 2
    assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
