"""tools/study.py: the report from records alone, against a chosen baseline."""
import os.path as osp
import runpy
import signal
import subprocess
import sys

import pytest

from asl_det.benchmark.study import write_record

STUDY = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                 'study.py')


def study_main(argv):
    runpy.run_path(STUDY)['main'](argv)


def write_records(records_dir):
    """focal, asl_paper and focal_margin on seeds 0-2: asl_paper = focal + 0.01 + seed / 1000."""
    for seed in range(3):
        for variant, ap in (('focal', 0.2 + seed / 100), ('asl_paper', 0.21 + seed * 0.011),
                            ('focal_margin', 0.2 + seed / 100)):
            write_record(records_dir, dict(
                variant=variant, condition='clean', seed=seed, iterations=10,
                metrics=dict(bbox_mAP=ap, bbox_mAP_50=2 * ap), device='cpu', threads=1,
                versions=dict(torch='x'), detector='FCOS', config='fcos.py', loss_cls={},
                wall_time_s=1.0, per_class_ap=dict(a=ap, b=ap / 2),
                curve=[dict(iter=5, bbox_mAP=ap / 2), dict(iter=10, bbox_mAP=ap)]))


def test_report_pairs_against_the_baseline_asked_for(tmp_path, capsys):
    study = str(tmp_path / 'study')
    write_records(osp.join(study, 'records'))
    study_main(['--report-only', '--study-dir', study, '--baseline', 'asl_paper'])
    report = open(osp.join(study, 'results.md')).read()
    assert report.startswith('# Study: does ASL help the FCOS? (fcos.py)')
    assert (f'Regenerate: `python tools/study.py --study-dir {study} --report-only '
            '--baseline asl_paper`') in report
    assert 'Δ box AP vs asl_paper [95% CI]' in report
    # focal - asl_paper = -0.010, -0.011, -0.012: mean -0.011, s.e. 0.00058, t(2) 4.303
    assert '| clean | focal | 3 | 0.210 ± 0.010 | 0.420 ± 0.020 | -0.011 [-0.013, -0.009] |' \
        in report
    assert '## Primary comparisons' not in report  # asl_paper is the baseline: none left
    assert 'worse: focal (-0.011 [-0.013, -0.009]), focal_margin' in report
    assert '## Per-class AP' in report
    # class b: focal - asl_paper = (-0.010, -0.011, -0.012) / 2 per seed: CI half-width 0.0012
    assert '| clean | b | 0.111 | 0.105 (-0.005 [-0.007, -0.004]) | 0.105 (' in report
    assert '## Learning curves' in report
    assert 'against asl_paper' in capsys.readouterr().out


def test_a_baseline_given_is_written_into_the_readme_table_also_when_it_is_focal(tmp_path):
    """A README verdict table keeps its own baseline= unless --baseline is given, the
    default's name included (it resets a table reported against another baseline)."""
    write_records(str(tmp_path / 'study' / 'records'))
    readme = tmp_path / 'README.md'
    readme.write_text('<!-- study-table: study baseline=asl_paper primary=focal_margin -->\n'
                      'old\n'
                      '<!-- /study-table -->\n')
    main = runpy.run_path(STUDY)['main']
    main.__globals__['REPO'] = str(tmp_path)  # the tool's documents: this folder's README
    main(['--report-only', '--study-dir', str(tmp_path / 'study')])
    assert readme.read_text().startswith(
        '<!-- study-table: study baseline=asl_paper primary=focal_margin -->\n')
    assert 'Δ box AP vs asl_paper' in readme.read_text()
    main(['--report-only', '--study-dir', str(tmp_path / 'study'), '--baseline', 'focal'])
    assert readme.read_text().startswith('<!-- study-table: study primary=focal_margin -->\n')
    assert 'Δ box AP vs focal' in readme.read_text()


def test_default_report_keeps_the_primary_comparisons_apart(tmp_path):
    study = str(tmp_path / 'study')
    write_records(osp.join(study, 'records'))
    study_main(['--report-only', '--study-dir', study])
    report = open(osp.join(study, 'results.md')).read()
    primary, exploratory = report.split('## Exploratory comparisons')
    assert '| clean | asl_paper |' in primary and 'focal_margin' not in primary.split('## ')[1]
    assert '| clean | focal_margin |' in exploratory


@pytest.mark.parametrize('argv, match', [
    (['--variants', 'asl_paper', 'focal_margin_prior10'],
     r'baseline \(--baseline\) focal is neither among the variants .* nor recorded'),
    (['--variants', 'focal', '--workers', '0'],
     r'workers \(--workers\) must be an integer in \[1, '),
    (['--variants', 'focal', '--train-args=--amp --nosuch'],
     r'--train-args: --nosuch: not options of tools/train.py'),
    (['--variants', 'focal', '--train-args="--amp'], 'No closing quotation'),
    (['--variants', 'focal', '--iters', '10', '--evaluations', '100'],
     r"evaluations \(--evaluations\) must be at most the schedule's 10 iterations")])
def test_a_study_that_cannot_run_as_asked_is_refused_before_any_run(tmp_path, argv, match):
    with pytest.raises(SystemExit, match=match):
        study_main(['--study-dir', str(tmp_path / 'study'), '--work-dir',
                    str(tmp_path / 'work'), '--seeds', '0', '--print-commands', *argv])
    assert not osp.exists(tmp_path / 'work' / 'clean')


def test_a_variant_added_to_a_study_with_recorded_baseline_is_accepted(tmp_path):
    study = str(tmp_path / 'study')
    write_records(osp.join(study, 'records'))  # focal among them
    tool = runpy.run_path(STUDY)
    settings = tool['settings_of'](tool['parse_args'](
        ['--study-dir', study, '--variants', 'asl_paper_prior10', '--seeds', '0']))
    assert settings.variants == ['asl_paper_prior10']


def test_a_baseline_without_records_is_refused(tmp_path):
    study = str(tmp_path / 'study')
    write_records(osp.join(study, 'records'))
    with pytest.raises(SystemExit, match="baseline must be a recorded variant .*'asl_alpha'"):
        study_main(['--report-only', '--study-dir', study, '--baseline', 'asl_alpha'])


def test_a_primary_name_without_records_is_refused(tmp_path):
    study = str(tmp_path / 'study')
    write_records(osp.join(study, 'records'))
    with pytest.raises(SystemExit, match=r'primary \(--primary\): asl_papr is not a variant '
                                         r'compared with the baseline focal in this study '
                                         r'\(asl_paper, focal_margin\)'):
        study_main(['--report-only', '--study-dir', study, '--primary', 'asl_paper', 'asl_papr'])
    assert not osp.exists(osp.join(study, 'results.md'))


def test_no_records_is_an_error_naming_the_folder(tmp_path):
    with pytest.raises(SystemExit, match='no records in .*records'):
        study_main(['--report-only', '--study-dir', str(tmp_path)])


def test_a_sigterm_stops_the_study_and_its_training_runs(tmp_path):
    from asl_det.benchmark.glyphs import generate_glyph_detection
    data = generate_glyph_detection(str(tmp_path / 'glyphs'), num_train=8, num_val=4)
    options = [f'{loader}.dataset.data_root={data["root"]}/' for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'val_evaluator.ann_file={data["val_ann"]}', 'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False']
    study = subprocess.Popen(
        [sys.executable, '-u', STUDY, '--study-dir', str(tmp_path / 'study'), '--work-dir',
         str(tmp_path / 'work'), '--variants', 'focal', '--seeds', '0', '--missing-fractions',
         '0', '--iters', '100000', '--workers', '1', '--cfg-options', *options],
        cwd=osp.dirname(osp.dirname(STUDY)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        for line in study.stdout:
            if '[study] start 1/1' in line:
                break
        children = open(f'/proc/{study.pid}/task/{study.pid}/children').read().split()
        assert len(children) == 1  # tools/train.py
        study.send_signal(signal.SIGTERM)
        assert study.wait(timeout=60) == 128 + signal.SIGTERM
        assert not osp.exists(f'/proc/{children[0]}')
    finally:
        study.kill()
        study.wait()


def test_each_study_dir_gets_its_own_default_work_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tool = runpy.run_path(STUDY)
    parse = tool['parse_args']
    config = osp.join(osp.dirname(osp.dirname(STUDY)), 'configs', 'demo',
                      'retinanet_glyphs_focal.py')

    def work_root(*extra):
        return tool['settings_of'](parse(['--config', config, *extra])).work_root

    short, long_ = work_root('--study-dir', 'short'), work_root('--study-dir', 'long')
    assert short.startswith(osp.join('work_dirs', 'study', 'retinanet_glyphs_focal-'))
    assert short != long_  # same config, two studies: their runs never mix
    # the folder decides, not its spelling
    assert work_root('--study-dir', str(tmp_path / 'short')) == short
    assert work_root('--study-dir', 'short', '--work-dir', 'mine') == 'mine'


def test_train_options_reach_every_run(tmp_path):
    tool = runpy.run_path(STUDY)
    args = tool['parse_args'](['--study-dir', str(tmp_path), '--skip-bad-images',
                               '--train-args=--amp --asl "gamma_neg=3"'])
    assert tool['settings_of'](args).train_args == ['--skip-bad-images', '--amp', '--asl',
                                                    'gamma_neg=3']
    assert tool['settings_of'](tool['parse_args'](['--study-dir', str(tmp_path)])).train_args \
        == []


def test_printed_commands_run_as_printed_and_no_pkg_resources_warning(tmp_path):
    """The lines name this interpreter and this checkout (a scheduler job's PATH and working
    directory do not matter); loading the configs warns nothing about pkg_resources."""
    from asl_det.benchmark.glyphs import generate_glyph_detection
    data = generate_glyph_detection(str(tmp_path / 'glyphs'), num_train=4, num_val=2)
    options = [f'{loader}.dataset.data_root={data["root"]}/' for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    options.append(f'val_evaluator.ann_file={data["val_ann"]}')
    result = subprocess.run(
        [sys.executable, STUDY, '--study-dir', str(tmp_path / 'study'), '--work-dir',
         str(tmp_path / 'work'), '--variants', 'focal', '--seeds', '0', '--missing-fractions',
         '0', '--print-commands', '--skip-bad-images', '--cfg-options', *options],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'pkg_resources' not in result.stderr and 'Warning' not in result.stderr
    (line,) = result.stdout.splitlines()
    repo = osp.dirname(osp.dirname(STUDY))
    assert line.startswith(f'cd {repo} && OMP_NUM_THREADS=')
    assert f' {sys.executable} tools/train.py {tmp_path}/work/configs/clean/focal.py ' in line
    assert line.endswith(f'--work-dir {tmp_path}/work/clean/focal_seed0 --skip-bad-images '
                         '--cfg-options randomness.seed=0')
