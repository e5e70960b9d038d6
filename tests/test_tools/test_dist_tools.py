"""tools/dist_train.sh and tools/dist_test.sh: torchrun with 2 processes on CPU (gloo)."""
import glob
import json
import os.path as osp
import socket

import pytest
import torch
from tiny_detection import REPO, run_tool, tool_env, write_coco_dataset, write_tiny_config

from asl_det.benchmark.analysis import load_run

ITERS = 2

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason='checks the CPU (gloo) fallback of the launch scripts')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_dist(script, args, cwd, monkeypatch):
    monkeypatch.setenv('PORT', str(free_port()))
    return run_tool([osp.join(REPO, 'tools', script)] + args, cwd=cwd, timeout=400)


def test_dist_train_and_test_two_cpu_processes(tmp_path, monkeypatch):
    write_coco_dataset(str(tmp_path / 'data'))
    config = write_tiny_config(str(tmp_path / 'tiny.py'), str(tmp_path / 'data'), ITERS)
    work_dir = str(tmp_path / 'dist')
    assert tool_env()['PYTHON']  # the scripts run the interpreter named by $PYTHON

    result = run_dist('dist_train.sh', [config, '2', '--work-dir', work_dir], str(tmp_path),
                      monkeypatch)
    output = result.stdout + result.stderr
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # world size
    assert 'no GPU: distributed run on CPU with the gloo backend' in output
    assert "dist_cfg=dict(backend='gloo')" in output
    assert osp.isfile(osp.join(work_dir, f'iter_{ITERS}.pth'))
    run = load_run(work_dir)
    assert run.last_iter == ITERS and 'coco/bbox_mAP' in run.final_metrics

    test_dir = str(tmp_path / 'dist_test')
    out = osp.join(test_dir, 'results.pkl')
    run_dist('dist_test.sh', [config, osp.join(work_dir, f'iter_{ITERS}.pth'), '2',
                              '--work-dir', test_dir, '--out', out], str(tmp_path), monkeypatch)
    assert osp.isfile(out)
    with open(glob.glob(osp.join(test_dir, '*', '*.json'))[0]) as f:
        assert 'coco/bbox_mAP' in json.load(f)


def test_dist_train_usage_error(tmp_path):
    with pytest.raises(AssertionError, match='usage'):
        run_tool([osp.join(REPO, 'tools', 'dist_train.sh'), 'only_config'], cwd=str(tmp_path))
