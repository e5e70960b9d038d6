"""The real TXL-PBC data set (read-only, ../shared/data/TXL-PBC_Dataset or $TXL_PBC_ROOT; YOLO
labels and an Ultralytics data.yaml) converted to COCO into a tmp folder with its published
counts, pre-flighted, and trained on for two iterations with configs/txl_pbc/."""
import os
import os.path as osp
import subprocess
import sys
from collections import Counter

import pytest
from tiny_detection import tool_env

from asl_det.intake.coco_output import preflight_converted
from asl_det.intake.yolo_conversion import convert_yolo_to_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TXL = os.environ.get('TXL_PBC_ROOT') or osp.join(REPO, '..', 'shared', 'data', 'TXL-PBC_Dataset')
ROOT = osp.join(TXL, 'TXL_PBC')
DATA_YAML = osp.join(ROOT, 'data.yaml')
CONFIG = osp.join(REPO, 'configs', 'txl_pbc', 'retinanet_txl_pbc_focal.py')

pytestmark = pytest.mark.skipif(
    not osp.isfile(DATA_YAML),
    reason=f'TXL-PBC not found at {DATA_YAML} (set TXL_PBC_ROOT to the TXL-PBC_Dataset clone)')


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """The conversion into a tmp folder (the data set is read-only) and its pre-flight cache."""
    out = tmp_path_factory.mktemp('txl_pbc')
    return convert_yolo_to_coco(DATA_YAML, str(out / 'coco')), str(out / 'cache')


def test_txl_pbc_converts_with_its_published_counts(converted):
    summary, cache = converted
    assert summary.classes == ['WBC', 'RBC', 'Platelets']  # data.yaml's, not classes.txt's
    assert Counter(note.split(' lists ')[1] for note in summary.notes) == {
        "['WBC', 'RBC', 'Platelet']: not used (a labelImg class list)": 1,  # labels/
        "['WBC', 'RBC', 'PC']: not used (a labelImg class list)": 3}  # labels/<split>/
    assert summary.images == {'train': 1008, 'val': 288, 'test': 144}
    assert summary.boxes['train'] == Counter(WBC=1055, RBC=16965, Platelets=596)
    assert {split: sum(boxes.values()) for split, boxes in summary.boxes.items()} == {
        'train': 18616, 'val': 5334, 'test': 2687}
    assert summary.label_lines == 18616 + 5334 + 2687
    assert (summary.skipped_files, summary.unknown_classes, summary.dropped_boxes,
            summary.outside_boxes, summary.unlabelled_images, summary.empty_splits) == (
        [], [], [], [], [], {})  # 6-decimal rounding past the edges is not "outside"
    assert summary.written['test'].endswith('/coco/test.json')
    assert not osp.exists(osp.join(ROOT, 'annotations_coco'))  # nothing written to the data
    lines = []
    reports = preflight_converted(summary, summary.root, workers=2, cache_dir=cache,
                                  log=lines.append)
    assert [(r.num_images, r.num_boxes, r.errors, r.bad_images, r.size_mismatches)
            for r in reports] == [(1008, 18616, [], [], []), (288, 5334, [], [], []),
                                  (144, 2687, [], [], [])]


def test_the_txl_pbc_config_trains_two_iterations(converted, tmp_path):
    summary, cache = converted
    options = [f'{loader}.dataset.data_root={ROOT}/' for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'train_dataloader.dataset.ann_file={summary.written["train"]}']
    options += [f'{loader}.dataset.ann_file={summary.written["test"]}'
                for loader in ('val_dataloader', 'test_dataloader')]
    options += [f'{e}.ann_file={summary.written["test"]}' for e in ('val_evaluator',
                                                                     'test_evaluator')]
    options += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
                'val_dataloader.persistent_workers=False']
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir',
         str(work_dir), '--cfg-options', *options], capture_output=True, text=True,
        cwd=str(tmp_path), env=dict(tool_env(), ASL_DET_CACHE=cache), timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert 'train_dataloader.dataset: ' in output and '1008 images, 18616 boxes' in output
    assert 'Iter(val) [18/18]' in output  # the whole test split, 8 per batch
    assert (work_dir / 'last_checkpoint').read_text().endswith('iter_2.pth')
