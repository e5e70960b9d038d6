"""tools/train.py runs the pre-flight after preparing the config and before building the
runner; ``--no-preflight`` skips it, ``--skip-bad-images`` trains on a filtered copy. No
training: the runner's construction is replaced by a stop."""
import json
import os.path as osp
import re
import runpy
import sys

import pytest
from intake_fixtures import truncate
from tiny_detection import REPO, write_coco_dataset, write_tiny_config

import asl_det.checkpoint
from asl_det.intake.preflight import PreflightError
from asl_det.launch import runtime

TRAIN = osp.join(REPO, 'tools', 'train.py')


class RunnerReached(Exception):
    pass


@pytest.fixture
def broken_config(tmp_path, monkeypatch):
    root = write_coco_dataset(str(tmp_path / 'data'), num_train=3, num_val=1)
    truncate(osp.join(root, 'train', '0002.png'))
    config = write_tiny_config(str(tmp_path / 'tiny.py'), root)
    built = []

    def stop(cfg, phase='train'):
        built.append(cfg)
        raise RunnerReached
    monkeypatch.setattr(runtime, 'build_runner', stop)
    monkeypatch.setattr(asl_det.checkpoint, 'use_safe_checkpoint_loader', lambda trust: None)
    monkeypatch.setenv('ASL_DET_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('LOCAL_RANK', '0')
    return config, built


def train(config, monkeypatch, *flags):
    monkeypatch.setattr(sys, 'argv', [TRAIN, config, '--work-dir', osp.dirname(config) + '/w']
                        + list(flags))
    runpy.run_path(TRAIN, run_name='__main__')


def test_preflight_stops_before_the_runner(broken_config, monkeypatch):
    config, built = broken_config
    with pytest.raises(PreflightError,
                       match=r"0002\.png \(mmcv.imfrombytes\(backend='cv2'\) returns None"):
        train(config, monkeypatch)
    assert built == []
    with pytest.raises(RunnerReached):
        train(config, monkeypatch, '--skip-bad-images')
    assert built[0].train_dataloader.dataset.ann_file.endswith('-instances_train.json')
    with pytest.raises(RunnerReached):
        train(config, monkeypatch, '--no-preflight')
    assert built[1].train_dataloader.dataset.ann_file == 'annotations/instances_train.json'


def test_a_data_set_without_images_is_refused_naming_its_json(broken_config, monkeypatch):
    config, built = broken_config
    ann = osp.join(osp.dirname(config), 'data', 'annotations', 'instances_train.json')
    with open(ann) as f:
        coco = json.load(f)
    with open(ann, 'w') as f:
        json.dump(dict(coco, images=[], annotations=[]), f)
    with pytest.raises(PreflightError, match=rf'train_dataloader\.dataset: {re.escape(ann)} has '
                                             '0 images: a data set built from it is empty'):
        train(config, monkeypatch)
    assert built == []
