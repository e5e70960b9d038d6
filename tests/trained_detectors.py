"""Tiny detectors trained by tools/train.py once per test session, shared by the inference tests
(tests/test_apis, tests/test_tools/test_infer.py and test_compare_side_by_side.py).

The tiny RetinaNet of tiny_detection.py, 4 iterations on its generated data: ``focal`` (the
config as written) and ``asl`` (``--asl gamma_neg=3 clip=0.005``: the default
``score_activation='shifted'`` with a margin below the head's initial prior of 0.01, so the
shifted scores, about 0.005, are not all zero). Runs that are asked for together train together
(2 cores). Also: the code-running checkpoint files of tests/test_checkpoint.
"""
import importlib.util
import os.path as osp
import subprocess
import sys

from tiny_detection import REPO, tool_env, write_coco_dataset, write_tiny_config

MAX_ITERS = 4
RUN_ARGS = {'focal': [], 'asl': ['--asl', 'gamma_neg=3', 'clip=0.005']}
#: The ASL run's margin (its shifted scores are sigmoid - CLIP).
CLIP = 0.005

_session = {}


def trained_runs(tmp_path_factory, *names):
    """{name: dict(work_dir, config (the work dir's dumped config), checkpoint, data)} of the
    runs ``names`` (keys of :data:`RUN_ARGS`), trained on first use in this session."""
    if 'root' not in _session:
        root = tmp_path_factory.mktemp('trained_detectors')
        data = write_coco_dataset(str(root / 'data'))
        _session.update(root=root, data=data,
                        config=write_tiny_config(str(root / 'tiny.py'), data, MAX_ITERS))
    root = _session['root']
    started = {}
    for name in names:
        if name not in _session:
            work_dir = str(root / name)
            started[name] = (work_dir, subprocess.Popen(
                [sys.executable, osp.join(REPO, 'tools', 'train.py'), _session['config'],
                 '--work-dir', work_dir, *RUN_ARGS[name]], cwd=str(root), env=tool_env(),
                text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for name, (work_dir, process) in started.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-4000:]
        _session[name] = dict(work_dir=work_dir, config=osp.join(work_dir, 'tiny.py'),
                              checkpoint=osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
                              data=_session['data'])
    return {name: _session[name] for name in names}


def checkpoint_files():
    """tests/test_checkpoint/checkpoint_files.py (malicious and trusted checkpoint writers)."""
    if 'checkpoint_files' in sys.modules:
        return sys.modules['checkpoint_files']
    path = osp.join(REPO, 'tests', 'test_checkpoint', 'checkpoint_files.py')
    spec = importlib.util.spec_from_file_location('checkpoint_files', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
