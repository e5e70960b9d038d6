"""Interrupted training resumes exactly; ``--resume`` never picks a broken checkpoint.

Three tiny ASL RetinaNet runs (6 iterations, checkpoint every 2, adaptive asymmetry moving
gamma_neg) start together: an uninterrupted reference; one killed with SIGTERM during iteration 3
(after the iteration-2 checkpoint); one killed with SIGKILL while it writes the iteration-4
checkpoint. Both killed runs resume with ``--resume`` and must end where the reference does.
"""
import glob
import os
import os.path as osp
import signal

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint
from reliability_helpers import (
    load_checkpoint,
    read_trace,
    toy_runner,
    trace_hook,
    train,
    train_scalars,
    write_config,
)
from tiny_detection import write_coco_dataset

from asl_det.checkpoint import checkpoint_is_intact, find_resumable_checkpoint
from asl_det.launch import runtime

ITERS = 6
ADAPTIVE = dict(type='AdaptiveAsymmetryHook', step_size=0.5, momentum=0.0)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    data = write_coco_dataset(str(root / 'data'), num_train=8)
    dirs = {name: str(root / name) for name in ('reference', 'sigterm', 'sigkill')}
    markers = {name: str(root / f'{name}.paused') for name in dirs}
    pause = dict(sigterm=dict(type='PauseHook', at_iter=3, marker=markers['sigterm']),
                 sigkill=dict(type='PauseInSaveHook', at_iter=4, marker=markers['sigkill']))
    configs = {name: write_config(root / f'{name}.py', data, ITERS, ckpt_interval=2,
                                  hooks=[ADAPTIVE, trace_hook(work_dir)]
                                  + ([pause[name]] if name in pause else []))
               for name, work_dir in dirs.items()}
    first = {name: train(configs[name], dirs[name], str(root)) for name in dirs}
    killed, resumed = {}, {}
    try:
        for name, sig in (('sigterm', signal.SIGTERM), ('sigkill', signal.SIGKILL)):
            first[name].wait_for(markers[name])
            first[name].kill(sig)
            first[name].wait(expect_rc=-sig)
            with open(osp.join(dirs[name], 'last_checkpoint')) as f:
                killed[name] = dict(files=sorted(os.listdir(dirs[name])),
                                    last_checkpoint=f.read())
            resumed[name] = train(configs[name], dirs[name], str(root), '--resume',
                                  log_name=f'{name}_resumed.log')
        first['reference'].wait()
        outputs = {name: run.wait() for name, run in resumed.items()}
    finally:  # a failed step must not leave a paused run sleeping
        for run in list(first.values()) + list(resumed.values()):
            run.kill(signal.SIGKILL)
    return dict(dirs=dirs, killed=killed, outputs=outputs)


def assert_same_training_state(reference, resumed):
    """Weights, optimizer state, iteration, schedulers and gamma_neg of two final checkpoints."""
    expected, actual = load_checkpoint(reference), load_checkpoint(resumed)
    assert actual['meta']['iter'] == expected['meta']['iter'] == ITERS
    assert actual['state_dict'].keys() == expected['state_dict'].keys()
    for key, value in expected['state_dict'].items():
        torch.testing.assert_close(actual['state_dict'][key], value, msg=key)
    momenta = expected['optimizer']['state']
    assert momenta and actual['optimizer']['state'].keys() == momenta.keys()
    for index, state in momenta.items():
        torch.testing.assert_close(actual['optimizer']['state'][index]['momentum_buffer'],
                                   state['momentum_buffer'])
    assert actual['optimizer']['param_groups'] == expected['optimizer']['param_groups']
    assert actual['param_schedulers'] == expected['param_schedulers']
    gamma, expected_gamma = (c['adaptive_asymmetry'] for c in (actual, expected))
    assert gamma['num_updates'] == expected_gamma['num_updates'] == ITERS
    assert gamma['gamma_neg'] == pytest.approx(expected_gamma['gamma_neg'], rel=1e-6)
    assert expected_gamma['gamma_neg'] > 4.5  # it moved: the restore is tested, not the start


def test_sigterm_after_checkpoint_then_resume_matches_uninterrupted(runs):
    dirs, killed = runs['dirs'], runs['killed']['sigterm']
    assert 'iter_2.pth' in killed['files'] and 'iter_4.pth' not in killed['files']
    assert 'resumed epoch: 0, iter: 2' in runs['outputs']['sigterm']
    assert_same_training_state(osp.join(dirs['reference'], f'iter_{ITERS}.pth'),
                               osp.join(dirs['sigterm'], f'iter_{ITERS}.pth'))
    # bitwise-identical weights after every iteration the resumed run trained
    reference, resumed = read_trace(dirs['reference']), read_trace(dirs['sigterm'])
    assert [resumed[i]['digest'] for i in range(1, ITERS + 1)] == [
        reference[i]['digest'] for i in range(1, ITERS + 1)]
    assert [line['iter'] for line in train_scalars(dirs['sigterm'])] == list(
        range(1, ITERS + 1))


def test_sigkill_during_save_leaves_previous_checkpoint_and_resumes(runs):
    dirs, killed = runs['dirs'], runs['killed']['sigkill']
    # killed inside the atomic write of iter_4.pth: the target was never created, the
    # complete iter_2.pth stays the latest, only a hidden temporary file is left over
    assert 'iter_2.pth' in killed['files'] and 'iter_4.pth' not in killed['files']
    assert [f for f in killed['files'] if f.startswith('.iter_4.pth.') and f.endswith('.tmp')]
    assert killed['last_checkpoint'].endswith('iter_2.pth')
    assert checkpoint_is_intact(osp.join(dirs['sigkill'], 'iter_2.pth'))
    assert 'resumed epoch: 0, iter: 2' in runs['outputs']['sigkill']
    assert_same_training_state(osp.join(dirs['reference'], f'iter_{ITERS}.pth'),
                               osp.join(dirs['sigkill'], f'iter_{ITERS}.pth'))
    reference, resumed = read_trace(dirs['reference']), read_trace(dirs['sigkill'])
    assert resumed[ITERS]['digest'] == reference[ITERS]['digest']
    assert resumed[ITERS]['gamma_neg'] == pytest.approx(reference[ITERS]['gamma_neg'], rel=1e-9)


# ------------------------------------------- choosing the checkpoint (fast, no training)

@pytest.fixture
def work_dir(tmp_path):
    """iter_2.pth and iter_4.pth (intact), last_checkpoint -> iter_4.pth."""
    for step in (2, 4):
        torch.save(dict(meta=dict(iter=step), state_dict={'w': torch.full((64,), step)}),
                   str(tmp_path / f'iter_{step}.pth'))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    return tmp_path


def tear(path):
    """Truncate a file to half its size, like a write killed midway without atomic saving."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.mark.parametrize('damage,expected', [
    ('none', 'iter_4.pth'),
    ('empty_record', 'iter_4.pth'),        # crash while CheckpointHook rewrote the record
    ('missing_target', 'iter_2.pth'),      # recorded file deleted
    ('torn_target', 'iter_2.pth'),         # recorded file truncated
    ('corrupt_target', 'iter_2.pth'),      # recorded file with flipped bytes (CRC)
    ('stale_newer', 'iter_2.pth'),         # record says iter_2; iter_4 is from an older run
    ('moved_work_dir', 'iter_4.pth'),      # record names the old location
    ('no_record', 'iter_4.pth'),
])
def test_find_resumable_checkpoint(work_dir, damage, expected):
    record = work_dir / 'last_checkpoint'
    target = work_dir / 'iter_4.pth'
    if damage == 'empty_record':
        record.write_text('')
    elif damage == 'missing_target':
        target.unlink()
    elif damage == 'torn_target':
        tear(target)
    elif damage == 'corrupt_target':
        data = bytearray(target.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 16] = bytes(16)
        target.write_bytes(bytes(data))
    elif damage == 'stale_newer':
        record.write_text(str(work_dir / 'iter_2.pth'))
    elif damage == 'moved_work_dir':
        record.write_text('/somewhere/else/work_dir/iter_4.pth')
    elif damage == 'no_record':
        record.unlink()
    (work_dir / '.iter_6.pth.x1y2.tmp').write_bytes(b'partial')  # a killed atomic write
    assert find_resumable_checkpoint(str(work_dir)) == str(work_dir / expected)


def test_stock_mmengine_resume_would_pick_the_torn_checkpoint(work_dir):
    tear(work_dir / 'iter_4.pth')
    assert find_latest_checkpoint(str(work_dir)) == str(work_dir / 'iter_4.pth')
    assert not checkpoint_is_intact(str(work_dir / 'iter_4.pth'))
    with pytest.raises(Exception):
        load_checkpoint(str(work_dir / 'iter_4.pth'))


def test_set_resume_auto_without_intact_checkpoint_starts_as_the_config_says(work_dir):
    for path in glob.glob(str(work_dir / 'iter_*.pth')):
        tear(path)
    cfg = Config(dict(work_dir=str(work_dir)))
    runtime.set_resume(cfg, 'auto')
    assert (cfg.resume, cfg.load_from) == (False, None)
    fine_tuning = Config(dict(work_dir=str(work_dir), load_from='pretrained.pth'))
    runtime.set_resume(fine_tuning, 'auto')  # its pretrained weights are kept, not dropped
    assert (fine_tuning.resume, fine_tuning.load_from) == (False, 'pretrained.pth')
    cfg = Config(dict(work_dir=str(work_dir / 'not_yet_created')))
    runtime.set_resume(cfg, 'auto')
    assert (cfg.resume, cfg.load_from) == (True, None)  # mmengine's lookup: nothing to find


def test_auto_resume_past_a_torn_checkpoint_matches_uninterrupted(tmp_path):
    toy_runner(tmp_path / 'a', 4).train()
    tear(tmp_path / 'a' / 'iter_4.pth')  # as if killed while saving, without atomic writes
    cfg = Config(dict(work_dir=str(tmp_path / 'a')))
    runtime.set_resume(cfg, 'auto')
    assert cfg.load_from == str(tmp_path / 'a' / 'iter_2.pth') and cfg.resume is True
    resumed = toy_runner(tmp_path / 'a', 6, resume=True, load_from=cfg.load_from)
    resumed.train()
    reference = toy_runner(tmp_path / 'b', 6)
    reference.train()
    assert resumed.iter == reference.iter == 6
    for key, value in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value)
