"""``tools/compare.py --side-by-side`` on two tiny trained runs (focal and ASL with shifted
scores, tests/trained_detectors.py): pages and index from the validation set, each run at its own
best-F1 threshold (printed); a missing-label split drawn on the train images with its dropped
boxes counted; a fixed threshold; errors in the options."""
import argparse
import json
import os
import os.path as osp
import runpy
import shutil
import sys

import pytest
import torch
from PIL import Image
from tiny_detection import REPO
from trained_detectors import trained_runs

from asl_det.benchmark.study.missing_annotations import write_missing_annotation_split
from asl_det.visualization.panels import MIN_PANEL_WIDTH

COMPARE = osp.join(REPO, 'tools', 'compare.py')

# mmdet's DetInferencer builds the config's visualizer, whose LocalVisBackend has no save_dir;
# mmengine warns when an (untrained) detector's box reaches outside the image it draws on
pytestmark = [pytest.mark.filterwarnings('ignore:Failed to add <class:UserWarning'),
              pytest.mark.filterwarnings('ignore:Warning. The (bbox|polygon) is out of bounds')]


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    return trained_runs(tmp_path_factory, 'focal', 'asl')


def compare(argv, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [COMPARE] + argv)
    runpy.run_path(COMPARE, run_name='__main__')


def read_index(out_dir):
    with open(osp.join(out_dir, 'index.json')) as f:
        return json.load(f)


def test_validation_images_each_run_at_its_best_f1(runs, tmp_path, monkeypatch, capsys):
    out_dir = str(tmp_path / 'side_by_side')
    compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--side-by-side', out_dir,
             '--rows-per-page', '1'], monkeypatch)
    printed = capsys.readouterr().out
    assert 'Final COCO box AP' in printed  # the comparison report still comes first
    index = read_index(out_dir)
    assert [run['name'] for run in index['runs']] == ['focal', 'asl']
    for run in index['runs']:
        best = run['threshold']
        assert best['ground_truth'] == 2 and best['iou'] == 0.5  # the 2 val boxes
        if best['threshold'] is None:
            assert f'[side-by-side] {run["name"]}: no detection matches' in printed
        else:
            assert f'[side-by-side] {run["name"]}: best-F1 threshold {best["threshold"]:.4f}' \
                in printed
        assert run['checkpoint'].endswith('iter_4.pth')
    assert index['thresholds_on']['ann_file'].endswith('instances_val.json')
    assert index['pages'] == ['page_001.png', 'page_002.png']  # 2 val images, 1 per page
    assert sorted(entry['image'] for entry in index['images']) == ['0001.png', '0002.png']
    for name in index['pages']:
        with Image.open(osp.join(out_dir, name)) as page:
            assert page.format == 'PNG'
            assert page.width >= 3 * MIN_PANEL_WIDTH  # ground truth + 2 runs
    markdown = open(osp.join(out_dir, 'index.md')).read()
    assert '| focal |' in markdown and '| asl |' in markdown and 'best-F1' in markdown


def test_missing_label_split_marks_the_dropped_boxes(runs, tmp_path, monkeypatch, capsys):
    data = runs['focal']['data']
    full = osp.join(data, 'annotations', 'instances_train.json')
    split = write_missing_annotation_split(full, 0.5, out_file=str(tmp_path / 'train50.json'))
    out_dir = str(tmp_path / 'missing')
    compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--names', 'focal', 'asl',
             '--side-by-side', out_dir, '--gt-ann', full, '--train-ann', split['ann_file'],
             '--select', 'sample', '--num-images', '2'], monkeypatch)
    capsys.readouterr()
    with open(full) as f:
        labels = json.load(f)
    with open(split['ann_file']) as f:
        kept = {ann['id'] for ann in json.load(f)['annotations']}
    lost = {}
    for ann in labels['annotations']:
        if ann['id'] not in kept:
            lost[ann['image_id']] = lost.get(ann['image_id'], 0) + 1
    index = read_index(out_dir)
    assert index['drawn']['train_ann'] == split['ann_file']
    assert index['drawn']['img_dir'].rstrip('/').endswith('train')  # the run's train images
    assert len(index['images']) == min(2, len(lost))
    for entry in index['images']:
        assert entry['dropped'] == lost[entry['image_id']] > 0
        for model in entry['models'].values():
            assert 0 <= model['found_dropped'] <= entry['dropped']
    assert 'Dashed black boxes' in open(osp.join(out_dir, 'index.md')).read()


def test_fixed_threshold(runs, tmp_path, monkeypatch, capsys):
    out_dir = str(tmp_path / 'fixed')
    compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--side-by-side', out_dir,
             '--score-thr', '0.005', '--num-images', '1'], monkeypatch)
    assert 'fixed threshold (not its best F1) 0.0050' in capsys.readouterr().out
    index = read_index(out_dir)
    assert [run['threshold']['threshold'] for run in index['runs']] == [0.005, 0.005]
    assert len(index['images']) == 1


@pytest.mark.parametrize('extra,message', [
    (['--train-ann', 'x.json'], '--train-ann needs --gt-ann'),
    (['--val-ann', 'x.json'], '--val-ann and --val-img-dir go together'),
    (['--num-images', '0'], '--num-images must be >= 1'),
])
def test_option_errors(runs, tmp_path, monkeypatch, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_status:
        compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--side-by-side',
                 str(tmp_path / 'out'), *extra], monkeypatch)
    assert exit_status.value.code == 2
    assert message in capsys.readouterr().err


def test_option_errors_without_side_by_side_or_second_run(runs, monkeypatch, capsys, tmp_path):
    with pytest.raises(SystemExit):
        compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--gt-ann', 'x.json'],
                monkeypatch)
    assert '--gt-ann only apply with --side-by-side OUT_DIR' in capsys.readouterr().err
    with pytest.raises(SystemExit):  # (options with a default were ignored without it)
        compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--num-images', '3',
                 '--trust-checkpoint'], monkeypatch)
    assert '--num-images, --trust-checkpoint only apply with --side-by-side OUT_DIR' in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare([runs['focal']['work_dir'], '--side-by-side', str(tmp_path)], monkeypatch)
    assert '--side-by-side needs two or more work dirs, got 1' in capsys.readouterr().err


def test_train_ann_of_another_file_is_refused(runs, tmp_path, monkeypatch, capsys):
    data = runs['focal']['data']
    with open(osp.join(data, 'annotations', 'instances_train.json')) as f:
        other = json.load(f)
    other['annotations'][0]['bbox'] = [0, 0, 5, 5]  # same id, another box
    foreign = tmp_path / 'other.json'
    foreign.write_text(json.dumps(other))
    with pytest.raises(SystemExit) as exit_status:
        compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--side-by-side',
                 str(tmp_path / 'out'), '--gt-ann',
                 osp.join(data, 'annotations', 'instances_train.json'), '--train-ann',
                 str(foreign)], monkeypatch)
    assert exit_status.value.code == 2
    assert 'are not in --gt-ann' in capsys.readouterr().err


def copy_with_checkpoint(run, tmp_path, edit):
    """A copy of ``run``'s work dir whose final checkpoint ``edit`` changed."""
    work_dir = str(tmp_path / 'edited' / osp.basename(run['work_dir']))
    shutil.copytree(run['work_dir'], work_dir)
    os.remove(osp.join(work_dir, 'last_checkpoint'))  # it names the original's checkpoint
    path = osp.join(work_dir, osp.basename(run['checkpoint']))
    checkpoint = torch.load(path, weights_only=False)
    edit(checkpoint)
    torch.save(checkpoint, path)
    return work_dir


def test_two_runs_of_one_name_are_refused(runs, tmp_path, monkeypatch, capsys):
    """(Their thresholds, panels and index entries were keyed by name: one run replaced the
    other.)"""
    with pytest.raises(SystemExit) as exit_status:
        compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--names', 'a', 'a',
                 '--side-by-side', str(tmp_path / 'out')], monkeypatch)
    assert exit_status.value.code == 2
    assert 'run names (--names, default: the work dirs\' basenames) must differ: a given more ' \
        'than once' in capsys.readouterr().err


def test_weights_that_do_not_fit_the_config_are_refused(runs, tmp_path, monkeypatch, capsys):
    """(They were logged as missing keys and the run drawn with random weights.)"""
    emptied = copy_with_checkpoint(runs['focal'], tmp_path,
                                   lambda checkpoint: checkpoint['state_dict'].clear())
    with pytest.raises(SystemExit) as exit_status:
        compare([emptied, runs['asl']['work_dir'], '--names', 'emptied', 'asl',
                 '--side-by-side', str(tmp_path / 'out')], monkeypatch)
    assert exit_status.value.code == 2
    assert f'{osp.basename(runs["focal"]["checkpoint"])} lacks' in capsys.readouterr().err


def test_a_refused_checkpoint_is_one_line(runs, tmp_path, monkeypatch, capsys):
    untrusted = copy_with_checkpoint(
        runs['focal'], tmp_path,
        lambda checkpoint: checkpoint['meta'].update(extra=argparse.Namespace(a=1)))
    with pytest.raises(SystemExit) as exit_status:
        compare([untrusted, runs['asl']['work_dir'], '--names', 'untrusted', 'asl',
                 '--side-by-side', str(tmp_path / 'out')], monkeypatch)
    assert exit_status.value.code == 1
    err = capsys.readouterr().err
    assert 'compare.py: error: UntrustedCheckpointError: refused to load' in err
    assert 'Traceback' not in err


def test_an_unreadable_validation_image_is_left_out_of_the_threshold(runs, tmp_path,
                                                                      monkeypatch, capsys):
    """Its boxes would count as missed, lowering recall and the chosen threshold."""
    data = runs['focal']['data']
    images = str(tmp_path / 'val')
    shutil.copytree(osp.join(data, 'val'), images)
    with open(osp.join(images, sorted(os.listdir(images))[0]), 'wb') as f:
        f.write(b'not an image')
    compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--side-by-side',
             str(tmp_path / 'out'), '--val-ann',
             osp.join(data, 'annotations', 'instances_val.json'), '--val-img-dir', images],
            monkeypatch)
    printed = capsys.readouterr().out
    assert printed.count('the threshold leaves out the 1 images that could not be read') == 2


def test_pages_of_an_earlier_picture_are_removed(runs, tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / 'again'
    for rows in ('1', '2'):
        compare([runs['focal']['work_dir'], runs['asl']['work_dir'], '--side-by-side',
                 str(out_dir), '--rows-per-page', rows, '--num-images', '2'], monkeypatch)
    assert sorted(os.listdir(out_dir)) == ['index.json', 'index.md', 'page_001.png']
    assert 'removed the 2 pages of an earlier picture' in capsys.readouterr().out
