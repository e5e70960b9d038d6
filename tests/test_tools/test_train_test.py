"""tools/train.py, tools/test.py, tools/compare.py and tools/plot_probabilities.py end to end on a
tiny generated COCO-format set (4 train / 2 val images of 64 px, a quarter-width RetinaNet-18,
4 iterations). One focal and one ``--asl`` run are trained once per module and shared. tools/test.py
and ``--resume`` load their checkpoints through asl_det's safe loader (weights only + allowlist;
its refusals are tested in tests/test_checkpoint)."""
import glob
import json
import os.path as osp
import pickle
import runpy
import shutil
import subprocess
import sys

import pytest
from mmengine.config import Config
from tiny_detection import (
    CLASSES,
    REPO,
    run_tool,
    tool_env,
    write_coco_dataset,
    write_tiny_config,
)

from asl_det.benchmark.analysis import load_run

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
MAX_ITERS = 4


def scalar_lines(work_dir):
    lines = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


def run_script(path, argv, monkeypatch):
    """Run a tool in this process (for tools that do no training: fast)."""
    monkeypatch.setattr(sys, 'argv', [path] + argv)
    monkeypatch.setenv('LOCAL_RANK', '0')  # train/test.py set it when absent: keep it scoped
    runpy.run_path(path, run_name='__main__')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    write_coco_dataset(str(root / 'data'))
    config = write_tiny_config(str(root / 'tiny_retinanet.py'), str(root / 'data'), MAX_ITERS)
    return root, config


@pytest.fixture(scope='module')
def focal_run(tiny):
    root, config = tiny
    work_dir = str(root / 'focal')
    result = run_tool([TRAIN, config, '--work-dir', work_dir], cwd=str(root))
    return work_dir, result.stdout + result.stderr


@pytest.fixture(scope='module')
def asl_run(tiny):
    root, config = tiny
    work_dir = str(root / 'asl')
    # score_activation=sigmoid: an untrained ASL head scores below clip, shifted scores are 0
    result = run_tool([TRAIN, config, '--work-dir', work_dir,
                       '--asl', 'gamma_neg=3', 'clip=0.1', 'score_activation=sigmoid'],
                      cwd=str(root))
    return work_dir, result.stdout + result.stderr


def test_train_writes_checkpoint_and_coco_metrics(focal_run):
    work_dir, _ = focal_run
    assert osp.isfile(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))
    lines = scalar_lines(work_dir)
    train = [line for line in lines if 'iter' in line]
    assert [line['iter'] for line in train] == list(range(1, MAX_ITERS + 1))
    for key in ('loss', 'loss_cls', 'time', 'asl_pos_prob', 'asl_neg_prob', 'asl_prob_gap'):
        assert key in train[-1], key
    val = [line for line in lines if 'coco/bbox_mAP' in line]
    assert len(val) == 1 and val[0]['step'] == MAX_ITERS
    for key in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m',
                'bbox_mAP_l'):
        assert f'coco/{key}' in val[0]
    for name in CLASSES:  # val_evaluator.classwise=True
        assert f'coco/{name}_precision' in val[0]


def test_train_asl_option_swaps_the_loss(asl_run):
    work_dir, output = asl_run
    assert 'AsymmetricLoss in model.bbox_head.loss_cls' in output
    dumped = load_run(work_dir)
    cfg = Config.fromfile(glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py'))[0])
    loss_cls = cfg.model.bbox_head.loss_cls
    assert loss_cls.type == 'AsymmetricLoss' and loss_cls.use_sigmoid is True
    assert loss_cls.gamma_neg == 3 and isinstance(loss_cls.gamma_neg, int)  # DictAction parsing
    assert loss_cls.clip == 0.1 and loss_cls.score_activation == 'sigmoid'
    assert 'alpha' not in loss_cls and 'gamma' not in loss_cls
    assert dumped.probabilities['asl_gamma_neg'] == 3.0
    assert 'coco/bbox_mAP' in dumped.final_metrics


def test_test_tool_dumps_results_and_metrics(tiny, focal_run):
    root, config = tiny
    work_dir, _ = focal_run
    test_dir = str(root / 'test_out')
    out = osp.join(test_dir, 'results.pkl')
    run_tool([TEST, config, osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
              '--work-dir', test_dir, '--out', out], cwd=str(root))
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 2  # one per val image
    assert {'img_id', 'pred_instances'} <= set(results[0])
    metric_files = glob.glob(osp.join(test_dir, '*', '*.json'))
    assert len(metric_files) == 1
    with open(metric_files[0]) as f:
        metrics = json.load(f)
    assert 'coco/bbox_mAP' in metrics and 'coco/bbox_mAP_50' in metrics
    # the checkpoint's weights were used: same numbers as the validation at the end of training
    final = load_run(work_dir).final_metrics
    assert metrics['coco/bbox_mAP'] == final['coco/bbox_mAP']


def test_an_asl_checkpoint_tested_with_the_focal_config_is_warned_about(tiny, asl_run,
                                                                          focal_run):
    root, config = tiny
    asl_dir, focal_dir = asl_run[0], focal_run[0]
    result = run_tool([TEST, config, osp.join(asl_dir, f'iter_{MAX_ITERS}.pth'), '--work-dir',
                       str(root / 'asl_tested_as_focal')], cwd=str(root))
    output = result.stdout + result.stderr
    assert 'the checkpoint was trained with other classification losses' in output
    assert 'trained with AsymmetricLoss(' in output and 'tested with FocalLoss(' in output
    result = run_tool([TEST, config, osp.join(focal_dir, f'iter_{MAX_ITERS}.pth'), '--work-dir',
                       str(root / 'focal_tested_as_focal')], cwd=str(root))
    assert 'other classification losses' not in result.stdout + result.stderr


def test_test_tool_rejects_non_pickle_out(tiny, monkeypatch, capsys):
    _, config = tiny
    with pytest.raises(SystemExit) as error:
        run_script(TEST, [config, 'any.pth', '--out', 'results.json'], monkeypatch)
    assert error.value.code == 2
    assert "--out must be a .pkl or .pickle file, got 'results.json'" in capsys.readouterr().err


def test_resume_continues_from_checkpoint(tiny, focal_run):
    root, config = tiny
    work_dir = str(root / 'resumed')
    shutil.copytree(focal_run[0], work_dir)
    total = MAX_ITERS + 2
    result = run_tool([TRAIN, config, '--work-dir', work_dir,
                       '--resume', osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
                       '--cfg-options', f'train_cfg.max_iters={total}',
                       f'train_cfg.val_interval={total}',
                       f'default_hooks.checkpoint.interval={total}'], cwd=str(root))
    assert f'resumed epoch: 0, iter: {MAX_ITERS}' in result.stdout + result.stderr
    assert osp.isfile(osp.join(work_dir, f'iter_{total}.pth'))
    run = load_run(work_dir)
    assert [line['iter'] for line in run.train] == list(range(1, total + 1))
    assert [entry['iter'] for entry in run.val] == [MAX_ITERS, total]


def test_resuming_an_asl_run_without_asl_is_refused(tiny, asl_run):
    """The checkpoint's config names AsymmetricLoss; this run would go on with FocalLoss."""
    root, config = tiny
    work_dir = str(root / 'resumed_asl')
    shutil.copytree(asl_run[0], work_dir)
    checkpoint = osp.join(work_dir, f'iter_{MAX_ITERS}.pth')
    result = run_failing([TRAIN, config, '--work-dir', work_dir, '--resume', checkpoint,
                          '--cfg-options', f'train_cfg.max_iters={MAX_ITERS + 2}'], str(root))
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    message = result.stderr[result.stderr.rindex('train.py: error: '):]
    assert '--resume: the checkpoint was trained with other classification losses' in message
    assert 'model.bbox_head.loss_cls: trained with AsymmetricLoss(' in message
    assert 'resumed with FocalLoss(' in message
    assert not osp.exists(osp.join(work_dir, f'iter_{MAX_ITERS + 2}.pth'))


def test_compare_tool_on_two_runs(tmp_path, focal_run, asl_run, monkeypatch, capsys):
    report, curves, probs = (str(tmp_path / n) for n in ('report.md', 'map.png', 'probs.png'))
    run_script(osp.join(REPO, 'tools', 'compare.py'),
               [focal_run[0], asl_run[0], '--names', 'focal', 'asl', '--markdown',
                '--out', report, '--out-plot', curves, '--prob-plot', probs], monkeypatch)
    printed = capsys.readouterr().out
    with open(report) as f:
        written = f.read()
    assert written in printed
    assert '| run | AP | AP50 | AP75 | APs | APm | APl |' in written
    assert '| focal |' in written and '| asl |' in written
    assert '| class | focal | asl |' in written
    for name in CLASSES:
        assert f'| {name} |' in written
    for path in (curves, probs):
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'

    run_script(osp.join(REPO, 'tools', 'compare.py'), [focal_run[0], asl_run[0]], monkeypatch)
    plain = capsys.readouterr().out
    assert 'Final COCO box AP (difference to focal)' in plain and '|' not in plain


def test_plot_probabilities_tool(tmp_path, focal_run, asl_run, monkeypatch, capsys):
    out = str(tmp_path / 'new_folder' / 'probs.png')  # made as the picture is saved
    run_script(osp.join(REPO, 'tools', 'plot_probabilities.py'),
               [focal_run[0], asl_run[0], '--out', out], monkeypatch)
    assert capsys.readouterr().out.strip() == out
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_compare_tool_checks_names(focal_run, asl_run, monkeypatch, capsys):
    with pytest.raises(SystemExit) as error:
        run_script(osp.join(REPO, 'tools', 'compare.py'),
                   [focal_run[0], asl_run[0], '--names', 'only_one'], monkeypatch)
    assert error.value.code == 2
    assert '--names needs one name per work dir (2), got 1' in capsys.readouterr().err


@pytest.mark.parametrize('tool', ['compare.py', 'plot_probabilities.py'])
@pytest.mark.parametrize('case', ['missing work dir', 'same names', 'not a png'])
def test_run_tools_check_their_inputs_and_outputs_before_any_work(
        tmp_path, focal_run, asl_run, monkeypatch, capsys, tool, case):
    runs, out = [focal_run[0], asl_run[0]], str(tmp_path / 'plot.png')
    if case == 'missing work dir':
        runs, message = [focal_run[0], str(tmp_path / 'nope')], 'is not a folder'
    elif case == 'same names':
        runs, message = [focal_run[0], focal_run[0]], 'must differ: focal given more than once'
    else:
        out, message = str(tmp_path / 'plot.txt'), 'must name a .png file'
    option = ['--out-plot', out] if tool == 'compare.py' else ['--out', out]
    with pytest.raises(SystemExit) as error:
        run_script(osp.join(REPO, 'tools', tool), [*runs, *option], monkeypatch)
    assert error.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ''  # nothing reported before the error


# ------------------------------------------- user errors: one line, no traceback (issue 27)

def run_failing(args, cwd, env=None):
    """Run ``[sys.executable, *args]``; the result, which must be a failure."""
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env or tool_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def user_error_cases(root, config):
    """name: (argv after the tool, text the one-line message must hold)."""
    (root / 'syntax_error.py').write_text('model = dict(\n')
    (root / 'data' / 'annotations' / 'broken.json').write_text('{"images": [')
    ann = 'train_dataloader.dataset.ann_file'
    return {
        'missing config': ([str(root / 'nope.py')], 'nope.py'),
        'config syntax': ([str(root / 'syntax_error.py')], 'syntax_error.py'),
        'missing ann file': ([config, '--cfg-options', f'{ann}=annotations/gone.json'],
                             'gone.json'),
        'json that does not parse': ([config, '--cfg-options', f'{ann}=annotations/broken.json'],
                                     'broken.json'),
        'bad loss argument': ([config, '--cfg-options', 'model.bbox_head.loss_cls.gama=2.0'],
                              "unexpected keyword argument 'gama'"),
        'unknown type': ([config, '--cfg-options', 'model.bbox_head.type=RetinaHeed'],
                         'RetinaHeed'),
        'option into a value': ([config, '--cfg-options', 'model.backbone.depth.x=1'],
                                '--cfg-options'),
        'malformed option': ([config, '--cfg-options', 'no_equals_sign'], 'no_equals_sign'),
        'asl argument': ([config, '--asl', 'gama_neg=3'], "--asl: overrides ['gama_neg']"),
        'asl refused': (['mmdet::vfnet/vfnet_r50_fpn_1x_coco.py', '--asl'], 'VFNetHead'),
    }


@pytest.mark.parametrize('case', ['missing config', 'config syntax', 'missing ann file',
                                  'json that does not parse', 'bad loss argument',
                                  'unknown type', 'option into a value', 'malformed option',
                                  'asl argument', 'asl refused'])
def test_train_reports_a_user_error_in_one_line(tiny, tmp_path, case):
    root, config = tiny
    argv, named = user_error_cases(root, config)[case]
    env = dict(tool_env(), ASL_DET_CACHE=str(tmp_path / 'cache'))
    result = run_failing([TRAIN, *argv, '--work-dir', str(tmp_path / 'work')], str(root), env)
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    message = result.stderr[result.stderr.rindex('train.py: error: '):]  # (may span lines)
    assert named in message, result.stderr[-3000:]


def test_skipping_bad_images_needs_the_preflight_check(tiny, tmp_path):
    root, config = tiny
    result = run_failing([TRAIN, config, '--no-preflight', '--skip-bad-images', '--work-dir',
                          str(tmp_path / 'work')], str(root))
    assert result.returncode == 2
    assert 'argument --skip-bad-images: not allowed with argument --no-preflight' \
        in result.stderr, result.stderr[-2000:]


def test_train_reports_a_failed_preflight_in_one_line(tmp_path):
    root = write_coco_dataset(str(tmp_path / 'data'), num_train=3, num_val=1)
    with open(osp.join(root, 'train', '0002.png'), 'r+b') as f:
        f.truncate(200)  # a download that stopped
    config = write_tiny_config(str(tmp_path / 'tiny.py'), root)
    env = dict(tool_env(), ASL_DET_CACHE=str(tmp_path / 'cache'))
    result = run_failing([TRAIN, config, '--work-dir', str(tmp_path / 'work')], str(tmp_path),
                         env)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'train.py: error: PreflightError: pre-flight check failed:' in result.stderr
    assert '0002.png' in result.stderr and '--skip-bad-images' in result.stderr


def test_a_bug_keeps_its_traceback(tiny, tmp_path):
    root, config = tiny
    buggy = tmp_path / 'buggy.py'
    buggy.write_text(f"_base_ = [{config!r}]\nraise RuntimeError('a bug in the config code')\n")
    result = run_failing([TRAIN, str(buggy)], str(root))
    assert 'Traceback' in result.stderr and 'a bug in the config code' in result.stderr


def test_test_tool_reports_user_errors_in_one_line(tiny, tmp_path):
    root, config = tiny
    result = run_failing([TEST, config, str(tmp_path / 'missing.pth')], str(root))
    assert 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f'test.py: error: FileNotFoundError: checkpoint {tmp_path}/missing.pth does not exist')
    (tmp_path / 'any.pth').write_bytes(b'')  # the data are checked before it is loaded
    result = run_failing([TEST, config, str(tmp_path / 'any.pth'), '--cfg-options',
                          'test_dataloader.dataset.ann_file=annotations/gone.json'], str(root))
    assert 'Traceback' not in result.stderr and 'gone.json' in result.stderr


# --------------------------------------- the run's work dir marker and skipped images list

def test_a_finished_run_leaves_its_skipped_images_list_and_no_marker(focal_run):
    work_dir, _ = focal_run
    assert not osp.exists(osp.join(work_dir, '.running'))
    with open(osp.join(work_dir, 'skipped_images.json')) as f:
        assert json.load(f) == dict(images=[])


def test_a_training_run_holds_its_work_dir_until_sigterm_ends_it(tiny, tmp_path):
    """While it trains, the work dir is marked in use (a second run there is refused in one
    line); a SIGTERM ends it: marker removed, data loader workers gone."""
    import signal
    import time
    root, config = tiny
    work_dir = str(tmp_path / 'long')
    marker = osp.join(work_dir, '.running')
    log = open(tmp_path / 'long.log', 'w')
    run = subprocess.Popen([sys.executable, TRAIN, config, '--work-dir', work_dir,
                            '--cfg-options', 'train_cfg.max_iters=100000',
                            'train_dataloader.num_workers=1',
                            'train_dataloader.persistent_workers=True'],
                           cwd=str(root), env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while 'Iter(train)' not in open(tmp_path / 'long.log').read():
            assert run.poll() is None and time.monotonic() < deadline, open(
                tmp_path / 'long.log').read()[-3000:]
            time.sleep(0.5)
        info = json.load(open(marker))
        assert info['pid'] == run.pid
        workers = open(f'/proc/{run.pid}/task/{run.pid}/children').read().split()
        assert workers  # the data loader's
        second = run_failing([TRAIN, config, '--work-dir', work_dir], str(root))
        assert 'Traceback' not in second.stderr
        assert f'is in use by another training run: pid {run.pid}' in second.stderr
        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == -signal.SIGTERM
        assert not osp.exists(marker)
        time.sleep(1.0)
        for pid in workers:
            assert not osp.exists(f'/proc/{pid}') or open(f'/proc/{pid}/stat').read().rsplit(
                ')', 1)[1].split()[0] == 'Z'
    finally:
        run.kill()
        run.wait()
        log.close()


@pytest.mark.parametrize('tool, argv, message, status', [  # 2: the command line, 1: a file
    ('preflight.py', ['{tmp}/nope.py'], "preflight.py: error: FileNotFoundError: ", 1),
    ('benchmark_step.py', ['{tmp}/nope.py'], 'benchmark_step.py: error: FileNotFoundError: ', 1),
    ('asl_coverage.py', ['--configs', '{tmp}/nope.py'],
     "asl_coverage.py: error: --configs: no such config '{tmp}/nope.py'", 2),
    ('asl_coverage.py', ['--out', '{tmp}/no/cov.md'], 'asl_coverage.py: error: --out: the folder',
     2),
    ('benchmark_loss.py', ['--repeats', '0'], 'argument --repeats: the value must be an integer',
     2),
    ('demo.py', ['--seeds', '0', '0', '--work-dir', '{tmp}/w'],
     'demo.py: error: seeds must differ: 0 given more than once', 2)])
def test_the_other_tools_report_bad_input_in_one_line(tmp_path, tool, argv, message, status):
    argv = [a.format(tmp=tmp_path) for a in argv]
    result = run_failing([osp.join(REPO, 'tools', tool), *argv], cwd=str(tmp_path))
    assert message.format(tmp=tmp_path) in result.stderr and 'Traceback' not in result.stderr
    assert result.returncode == status
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_preflight_reports_a_bad_image_naming_the_tool(tmp_path):
    config = write_tiny_config(str(tmp_path / 'tiny.py'), write_coco_dataset(str(tmp_path / 'd')))
    with open(tmp_path / 'd' / 'annotations' / 'instances_train.json') as f:
        broken = json.load(f)['images'][0]['file_name']
    (tmp_path / 'd' / 'train' / osp.basename(broken)).write_bytes(b'not an image')
    result = run_failing([osp.join(REPO, 'tools', 'preflight.py'), config], cwd=str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.startswith('preflight.py: error: ')  # then the bad images, one a line
    assert osp.basename(broken) in result.stderr
