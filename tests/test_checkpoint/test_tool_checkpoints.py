"""The tools load checkpoints safely: a checkpoint written by tools/train.py (ASL, adaptive
asymmetry, probability statistics, divergence guard) needs nothing beyond the allowlist and works
as ``load_from`` (train -> test -> ``--resume`` through the tools is in
tests/test_tools/test_train_test.py); a checkpoint that would run code is refused by
tools/test.py, by ``--resume`` and by ``load_from``, and never runs; ``--trust-checkpoint`` loads a
trusted legacy file; ``import asl_det`` leaves torch.load and mmengine's loaders alone.

Subprocesses that do not depend on each other run together (2 cores)."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from checkpoint_files import (
    assert_same_content,
    write_malicious_checkpoint,
    write_trusted_legacy_checkpoint,
)
from tiny_detection import REPO, tool_env, write_coco_dataset, write_tiny_config

from asl_det.benchmark.analysis import load_run
from asl_det.checkpoint import load_checkpoint_file
from asl_det.checkpoint.safe_loading import unlisted_globals

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
ITERS = 2

ASL_RUN = """\
_base_ = [{base!r}]
custom_imports = dict(
    imports=['asl_det', 'asl_det.engine.optimizers.divergence_guard_optim_wrapper'])
model = dict(bbox_head=dict(loss_cls=dict(
    _delete_=True, type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, gamma_neg=4.0,
    clip=0.05, score_activation='sigmoid')))
custom_hooks = [dict(type='ProbabilityStatisticsHook'),
                dict(type='AdaptiveAsymmetryHook', step_size=0.5, momentum=0.0)]
optim_wrapper = dict(type='DivergenceGuardOptimWrapper', on_nonfinite='skip')
"""


def start(args, cwd):
    """``[python, *args]`` started in the background (stdout and stderr captured)."""
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=tool_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process, timeout=300):
    """(exit code, output) of a started process."""
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The tiny ASL RetinaNet trained for 2 iterations by tools/train.py."""
    root = tmp_path_factory.mktemp('tool_checkpoints')
    data = write_coco_dataset(str(root / 'data'))
    base = write_tiny_config(str(root / 'tiny_base.py'), data, ITERS)
    config = root / 'asl.py'
    config.write_text(ASL_RUN.format(base=base))
    work_dir = str(root / 'trained')
    code, output = finish(start([TRAIN, str(config), '--work-dir', work_dir], str(root)))
    assert code == 0, output[-4000:]
    return dict(root=root, config=str(config), work_dir=work_dir,
                checkpoint=osp.join(work_dir, f'iter_{ITERS}.pth'))


def test_tool_checkpoint_needs_only_the_allowlist(trained):
    assert unlisted_globals(trained['checkpoint']) == []
    loaded = load_checkpoint_file(trained['checkpoint'], map_location='cpu')
    assert {'adaptive_asymmetry', 'message_hub', 'optimizer', 'param_schedulers'} <= set(loaded)
    assert loaded['optimizer']['divergence_guard']['skipped_steps'] == 0
    assert_same_content(loaded, torch.load(trained['checkpoint'], map_location='cpu',
                                           weights_only=False))


def test_load_from_and_trusted_legacy_file_work_through_the_tools(trained):
    root, config = trained['root'], trained['config']
    legacy = write_trusted_legacy_checkpoint(root / 'legacy.pth',
                                             load_checkpoint_file(trained['checkpoint']))
    loaded_dir, test_dir = str(root / 'load_from'), str(root / 'trusted_test')
    # lr 0: one more iteration keeps the loaded weights, so its checkpoint shows what was loaded
    load_from = start([TRAIN, config, '--work-dir', loaded_dir, '--cfg-options',
                       f'load_from={trained["checkpoint"]}', 'train_cfg.max_iters=1',
                       'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
                       'optim_wrapper.optimizer.lr=0.0'], str(root))
    trusted = start([TEST, config, legacy, '--work-dir', test_dir, '--trust-checkpoint'],
                    str(root))
    (load_code, load_output), (test_code, test_output) = finish(load_from), finish(trusted)
    assert load_code == 0, load_output[-4000:]
    assert f'Load checkpoint from {trained["checkpoint"]}' in load_output
    assert 'resumed' not in load_output
    expected = load_checkpoint_file(trained['checkpoint'])['state_dict']
    assert_same_content(load_checkpoint_file(osp.join(loaded_dir, 'iter_1.pth'))['state_dict'],
                        expected)
    assert test_code == 0, test_output[-4000:]
    with open(glob.glob(osp.join(test_dir, '*', '*.json'))[0]) as f:
        metrics = json.load(f)
    assert metrics['coco/bbox_mAP'] == load_run(trained['work_dir']).final_metrics['coco/bbox_mAP']


def test_code_running_checkpoint_is_refused_by_test_resume_and_load_from(trained):
    root, config = trained['root'], trained['config']
    base = load_checkpoint_file(trained['checkpoint'])
    markers = {name: root / f'{name}.marker' for name in ('test', 'resume', 'load_from')}
    evil = {name: write_malicious_checkpoint(root / f'evil_{name}.pth', markers[name], kind,
                                             legacy, base)
            for name, kind, legacy in (('test', 'system', False), ('resume', 'exec', False),
                                       ('load_from', 'system', True))}
    resume_dir = root / 'planted'  # --resume (auto) finds a planted newest checkpoint
    resume_dir.mkdir()
    planted = resume_dir / 'iter_8.pth'
    planted.write_bytes(open(evil['resume'], 'rb').read())
    (resume_dir / 'last_checkpoint').write_text(str(planted))
    started = {
        'test': start([TEST, config, evil['test'], '--work-dir', str(root / 'evil_test')],
                      str(root)),
        'resume': start([TRAIN, config, '--work-dir', str(resume_dir), '--resume'], str(root)),
        'load_from': start([TRAIN, config, '--work-dir', str(root / 'evil_load_from'),
                            '--cfg-options', f'load_from={evil["load_from"]}'], str(root)),
    }
    results = {name: finish(process) for name, process in started.items()}
    needed = dict(test='posix.system', resume='builtins.exec', load_from='posix.system')
    for name, (code, output) in results.items():
        assert code != 0, f'{name} loaded a code-running checkpoint\n{output[-4000:]}'
        assert 'UntrustedCheckpointError: refused to load' in output, output[-4000:]
        assert needed[name] in output and '--trust-checkpoint' in output
        assert not markers[name].exists(), name
    assert 'Iter(train)' not in results['resume'][1] + results['load_from'][1]


def test_import_leaves_torch_load_and_mmengine_alone(trained, tmp_path):
    marker = tmp_path / 'marker'
    evil = write_malicious_checkpoint(tmp_path / 'evil.pth', marker)
    script = f"""
import pickle, torch
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.runner import CheckpointLoader
backend = get_file_backend({str(tmp_path)!r}, enable_singleton=True)
import asl_det
# mmengine's 'local' backend and its cache of backend instances are untouched
assert get_file_backend({str(tmp_path)!r}, enable_singleton=True) is backend
assert type(get_file_backend({str(tmp_path)!r})) is LocalBackend
for load in (lambda path: torch.load(path), lambda path: CheckpointLoader.load_checkpoint(path)):
    try:
        load({evil!r})
    except pickle.UnpicklingError as error:
        assert 'posix.system' in str(error)
    else:
        raise AssertionError('a code-running checkpoint loaded after import asl_det')
try:  # mmengine's own loader, as installed by mmengine: weights-only, no allowlist
    CheckpointLoader.load_checkpoint({trained['checkpoint']!r})
except pickle.UnpicklingError as error:
    assert 'HistoryBuffer' in str(error) and 'asl_det' not in str(error)
else:
    raise AssertionError('import asl_det changed how mmengine loads checkpoints')
print('untouched')
"""
    code, output = finish(start(['-c', script], str(tmp_path)))
    assert code == 0 and 'untouched' in output, output[-4000:]
    assert not marker.exists()
