"""tools/infer.py on a tools/train.py checkpoint (the tiny ASL RetinaNet with shifted scores,
tests/trained_detectors.py): the same predictions as tools/test.py --out, DetInferencer's output
layout, bad files named and skipped with one progress line, a code-running checkpoint refused
without running, and user errors reported before any image is processed."""
import importlib.util
import json
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from tiny_detection import REPO, tool_env
from trained_detectors import checkpoint_files, trained_runs

from asl_det.checkpoint import UntrustedCheckpointError, load_checkpoint_file

INFER = osp.join(REPO, 'tools', 'infer.py')
TEST = osp.join(REPO, 'tools', 'test.py')

# mmdet's DetInferencer builds the config's visualizer, whose LocalVisBackend has no save_dir
pytestmark = pytest.mark.filterwarnings('ignore:Failed to add <class:UserWarning')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    return trained_runs(tmp_path_factory, 'asl')['asl']


@pytest.fixture(scope='module')
def tool():
    """tools/infer.py as a module (``main(argv)`` returns the exit status)."""
    spec = importlib.util.spec_from_file_location('infer_tool', INFER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start(args, cwd):
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=tool_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process):
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-4000:]
    return output


def test_predictions_equal_those_of_test_tool(run, tmp_path):
    val = osp.join(run['data'], 'val')
    results, out_dir = str(tmp_path / 'results.pkl'), str(tmp_path / 'outputs')
    tested = start([TEST, run['config'], run['checkpoint'], '--work-dir',
                    str(tmp_path / 'test'), '--out', results], str(tmp_path))
    inferred = start([INFER, val, run['config'], '--weights', run['checkpoint'], '--out-dir',
                      out_dir], str(tmp_path))
    finish(tested)
    finish(inferred)
    with open(results, 'rb') as f:
        expected = pickle.load(f)
    assert len(expected) == 2
    for result in expected:
        name = osp.splitext(osp.basename(result['img_path']))[0]
        with open(osp.join(out_dir, 'preds', f'{name}.json')) as f:
            predicted = json.load(f)
        found = result['pred_instances']
        assert predicted['labels'] == found['labels'].tolist()
        assert np.allclose(predicted['scores'], found['scores'].numpy(), rtol=0, atol=1e-6)
        assert np.allclose(predicted['bboxes'], found['bboxes'].numpy(), rtol=0, atol=1e-4)
        assert 0 < max(predicted['scores']) < 0.01  # shifted ASL scores (sigmoid ~0.01 - 0.005)
        with Image.open(osp.join(out_dir, 'vis', f'{name}.png')) as drawn:
            assert drawn.size == (64, 64)  # drawn on the original image


def test_bad_files_are_named_and_skipped_with_one_progress_line(run, tool, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    source = osp.join(run['data'], 'val', '0001.png')
    for index in range(6):
        shutil.copy(source, folder / f'good_{index}.png')
    data = open(source, 'rb').read()
    (folder / 'truncated.png').write_bytes(data[:len(data) // 2])
    (folder / 'empty.jpg').write_bytes(b'')
    (folder / 'notes.txt').write_text('not an image')
    out_dir = tmp_path / 'outputs'
    code = tool.main([str(folder), run['config'], '--weights', run['checkpoint'], '--out-dir',
                      str(out_dir), '--batch-size', '3'])
    printed = capsys.readouterr()
    assert code == tool.EXIT_SKIPPED == 3
    assert '2 file(s) skipped' in printed.err
    for bad in ('truncated.png', 'empty.jpg'):
        assert str(folder / bad) in printed.err
    assert 'empty file (0 bytes)' in printed.err
    good = sorted(f'good_{index}' for index in range(6))
    assert sorted(n[:-4] for n in os.listdir(out_dir / 'vis')) == good
    assert sorted(n[:-5] for n in os.listdir(out_dir / 'preds')) == good
    assert '6 image(s) done' in printed.out
    # one terminal line: the bar is redrawn with carriage returns, never a newline per image
    progress = [line for line in printed.out.split('\n') if 'task/s' in line]
    assert len(progress) == 1 and progress[0].count('\r') >= 2
    last = progress[0].split('\r')[-1]
    assert '8/8' in last and 'task/s' in last and 'ETA' in last


def test_code_running_checkpoint_is_refused_before_anything_runs(run, tool, tmp_path, capsys):
    marker = tmp_path / 'ran'
    evil = checkpoint_files().write_malicious_checkpoint(
        tmp_path / 'evil.pth', marker, 'system', base=load_checkpoint_file(run['checkpoint']))
    out_dir = tmp_path / 'outputs'
    code = tool.main([osp.join(run['data'], 'val'), run['config'], '--weights', evil,
                      '--out-dir', str(out_dir)])
    printed = capsys.readouterr()
    assert code == 1
    with pytest.raises(UntrustedCheckpointError) as refusal:  # what tools/test.py says
        load_checkpoint_file(evil)
    assert f'UntrustedCheckpointError: {refusal.value}' in printed.err
    assert 'posix.system' in printed.err and '--trust-checkpoint' in printed.err
    assert not marker.exists()
    assert not out_dir.exists()  # the output folder is made once the model is ready


def test_only_unreadable_files_is_a_failure(run, tool, tmp_path, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    (folder / 'empty.jpg').write_bytes(b'')
    code = tool.main([str(folder), run['config'], '--weights', run['checkpoint'], '--out-dir',
                      str(tmp_path / 'outputs')])
    printed = capsys.readouterr()
    assert code == 1
    assert '0 image(s) done' in printed.out and '1 file(s) skipped' in printed.err


def write_three_class_config(path, base):
    path.write_text(f'_base_ = [{base!r}]\nmodel = dict(bbox_head=dict(num_classes=3))\n')
    return str(path)


@pytest.mark.parametrize('case', ['classes', 'empty folder', 'output folder', 'weights', 'pgm',
                                  'device', 'mmdet config', 'config syntax', 'over the inputs'])
def test_user_errors_name_the_argument_before_any_work(run, tool, tmp_path, capsys, case):
    inputs, config, weights = osp.join(run['data'], 'val'), run['config'], run['checkpoint']
    out_dir = str(tmp_path / 'outputs')
    options = []
    if case == 'classes':
        config = write_three_class_config(tmp_path / 'three.py', config)
        expected = [f'CONFIG ({config}) and --weights ({weights}) do not describe the same model',
                    'trained for 2 classes (square, bar)', 'model.bbox_head.num_classes = 3',
                    'bbox_head.retina_cls.weight: --weights']
    elif case == 'empty folder':
        inputs = str(tmp_path / 'empty')
        os.mkdir(inputs)
        expected = [f"INPUTS: the folder '{inputs}' holds no image files"]
    elif case == 'output folder':
        blocker = tmp_path / 'a_file'
        blocker.write_text('')
        out_dir = str(blocker / 'outputs')
        expected = [f"--out-dir: cannot write to '{out_dir}'"]
    elif case == 'pgm':  # OpenCV writes .pgm in grey only: no colour picture under that name
        inputs = str(tmp_path / 'grey.pgm')
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(inputs)
        expected = [f"INPUTS: '{inputs}': the picture with boxes is saved as vis/<file name>",
                    '--no-save-vis']
    elif case == 'mmdet config':
        config = 'mmdet::nope/nope.py'
        expected = ['CONFIG (mmdet::nope/nope.py): ', 'nope.py']
    elif case == 'config syntax':
        config = str(tmp_path / 'broken.py')
        (tmp_path / 'broken.py').write_text('model = dict(\n')
        expected = [f'CONFIG ({config}): SyntaxError']
    elif case == 'over the inputs':  # the pictures of photos/vis/ would go to photos/vis/
        inputs = str(tmp_path / 'photos' / 'vis')
        shutil.copytree(osp.join(run['data'], 'val'), inputs)
        before = {name: (tmp_path / 'photos' / 'vis' / name).read_bytes()
                  for name in os.listdir(inputs)}
        out_dir = str(tmp_path / 'photos')
        first = sorted(before)[0]
        expected = [f"--out-dir: '{out_dir}' would write vis/{first} over the input "
                    f"'{osp.join(inputs, first)}'"]
    elif case == 'device':
        options = ['--device', 'gpu']
        expected = ["--device must be a torch device such as cpu, cuda or cuda:0, got 'gpu'"]
    else:
        weights = str(tmp_path / 'missing.pth')
        expected = [f"--weights: no such file '{weights}'"]
    with pytest.raises(SystemExit) as exit_status:
        tool.main([inputs, config, '--weights', weights, '--out-dir', out_dir, *options])
    assert exit_status.value.code == 2
    printed = capsys.readouterr()
    for text in expected:
        assert text in printed.err, printed.err
    if case == 'over the inputs':
        assert {name: (tmp_path / 'photos' / 'vis' / name).read_bytes()
                for name in os.listdir(inputs)} == before
    assert 'task/s' not in printed.out  # no image was processed
    assert not osp.exists(out_dir) or case == 'over the inputs'  # (there: the inputs' parent)
