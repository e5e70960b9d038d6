"""Shared by the reliability tests: tiny training configs with the test hooks, training
subprocesses started concurrently (2 cores: launch, then wait), reading their results, and a
toy in-process Runner for the fast tests (which loads checkpoints as the tools do)."""
import glob
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

from tiny_detection import REPO, tool_env, write_tiny_config
from toy_runner import ToyDetector  # noqa: F401  (re-exported for the tests)
from toy_runner import toy_runner as plain_toy_runner

from asl_det.checkpoint import load_checkpoint_file, use_safe_checkpoint_loader

HERE = osp.dirname(osp.abspath(__file__))
TRAIN = osp.join(REPO, 'tools', 'train.py')
DIST_TRAIN = osp.join(REPO, 'tools', 'dist_train.sh')

#: ASL in the tiny RetinaNet; plain sigmoid scores (an untrained head scores below clip).
ASL_LOSS = ("dict(_delete_=True, type='AsymmetricLoss', use_sigmoid=True, gamma_pos=0.0, "
            "gamma_neg=4.0, clip=0.05, score_activation='sigmoid')")


def write_config(path, data_root, max_iters, hooks=(), ckpt_interval=None, optim_wrapper=None,
                 extra='', imports=()):
    """A config on top of ``tiny_detection``'s RetinaNet (written next to it as ``*_base.py``):
    ASL, no validation, a checkpoint every ``ckpt_interval`` iterations (default: at the end),
    ``hooks`` (dicts) as custom hooks after the statistics hook (AdaptiveAsymmetryHook replaces
    it), this directory's hooks importable, ``optim_wrapper`` merged in, ``extra`` appended;
    ``imports``: more modules for ``custom_imports`` (those registering the types it names)."""
    base = write_tiny_config(str(path)[:-3] + '_base.py', data_root, max_iters)
    custom_hooks = [] if any(h['type'] == 'AdaptiveAsymmetryHook' for h in hooks) else [
        dict(type='ProbabilityStatisticsHook')]
    custom_hooks += list(hooks)
    lines = [
        f'_base_ = [{base!r}]',
        f"custom_imports = dict(imports={['asl_det', 'reliability_hooks', *imports]!r}, "
        "allow_failed_imports=False)",
        f'model = dict(bbox_head=dict(loss_cls={ASL_LOSS}))',
        'val_dataloader = None', 'val_cfg = None', 'val_evaluator = None',
        f'custom_hooks = {custom_hooks!r}',
        f'default_hooks = dict(checkpoint=dict(interval={ckpt_interval or max_iters}))',
    ]
    if optim_wrapper is not None:
        lines.append(f'optim_wrapper = {optim_wrapper!r}')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n' + extra)
    return str(path)


def toy_runner(*args, **kwargs):
    """``toy_runner.toy_runner`` with asl_det's safe checkpoint loader installed, as
    tools/train.py installs it (mmengine's own refuses its checkpoints on torch >= 2.6)."""
    use_safe_checkpoint_loader()
    return plain_toy_runner(*args, **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def hooks_env(**extra):
    """``tool_env`` with this directory on PYTHONPATH (for ``reliability_hooks``)."""
    env = tool_env()
    env['PYTHONPATH'] = HERE + os.pathsep + env['PYTHONPATH']
    env.update(extra)
    return env


class Training:
    """A training subprocess started in the background; its output goes to ``log``."""

    def __init__(self, args, cwd, log, env=None):
        command = (['bash'] if args[0].endswith('.sh') else [sys.executable]) + list(args)
        self.command = ' '.join(command)
        self.log = log
        with open(log, 'w') as out:
            self.process = subprocess.Popen(command, cwd=cwd, env=env or hooks_env(),
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def output(self):
        with open(self.log) as f:
            return f.read()

    def wait(self, timeout=300, expect_rc=0):
        """Wait for the end; assert the exit code (None: any); return the output."""
        try:
            rc = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            raise
        if expect_rc is not None:
            assert rc == expect_rc, (f'{self.command} exited {rc}, expected {expect_rc}\n'
                                     f'{self.output()[-5000:]}')
        return self.output()

    def wait_for(self, path, timeout=180):
        """Wait until ``path`` exists (the run paused there); fail if the run ends first."""
        deadline = time.monotonic() + timeout
        while not osp.exists(path):
            assert self.process.poll() is None, (f'{self.command} ended with '
                                                 f'{self.process.returncode} before {path}\n'
                                                 f'{self.output()[-5000:]}')
            assert time.monotonic() < deadline, f'{path} did not appear in {timeout} s'
            time.sleep(0.2)

    def kill(self, sig):
        """Send ``sig`` to the training process (the whole session for launchers)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)


def train(config, work_dir, cwd, *options, log_name=None, env=None):
    """Start ``tools/train.py config --work-dir work_dir *options`` (``env``: ``hooks_env()``)."""
    log = osp.join(cwd, log_name or f'{osp.basename(work_dir)}.log')
    return Training([TRAIN, config, '--work-dir', work_dir, *options], cwd, log, env)


def load_checkpoint(path):
    """A checkpoint the tests wrote, through asl_det's safe loader (weights only + allowlist)."""
    return load_checkpoint_file(path, map_location='cpu')


def read_trace(work_dir, rank=0):
    """The ``ParameterTraceHook`` records of a rank, by iteration."""
    with open(osp.join(work_dir, 'trace', f'trace_rank{rank}.jsonl')) as f:
        return {r['iter']: r for r in map(json.loads, f)}


def train_scalars(work_dir):
    """Training lines of every ``scalars.json`` of a work dir (resumed runs have several)."""
    lines = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return [line for line in lines if 'iter' in line and 'loss' in line]


def trace_hook(work_dir):
    return dict(type='ParameterTraceHook', out_dir=osp.join(work_dir, 'trace'))
