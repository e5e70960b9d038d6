"""tools/study.py --report-only: the table from records alone, against a chosen baseline."""
import os.path as osp
import runpy

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
                versions=dict(torch='x'), detector='FCOS', loss_cls={}, wall_time_s=1.0))


def test_report_pairs_against_the_baseline_asked_for(tmp_path, capsys):
    records, out = str(tmp_path / 'records'), str(tmp_path / 'out')
    write_records(records)
    study_main(['--report-only', '--records-dir', records, '--out', out,
                       '--baseline', 'asl_paper'])
    report = open(osp.join(out, 'results.md')).read()
    assert report.startswith('# Study: does ASL help the glyph FCOS?')
    assert (f'Regenerate: `python tools/study.py --report-only --records-dir {records} --out '
            f'{out} --baseline asl_paper`') in report
    assert 'Δ box AP vs asl_paper (mean ± s.e.)' in report
    # focal - asl_paper = -0.010, -0.011, -0.012 per seed: mean -0.011, s.e. 0.0006
    assert '| clean | focal | 0,1,2 | 0.210 ± 0.010 | 0.420 ± 0.020 | -0.011 ± 0.001 |' in report
    assert 'worse: focal (-0.011 ± 0.001), focal_margin (-0.011 ± 0.001)' in report
    assert 'against asl_paper' in capsys.readouterr().out


def test_a_baseline_without_records_is_refused(tmp_path):
    records = str(tmp_path / 'records')
    write_records(records)
    with pytest.raises(SystemExit, match="baseline must be a variant in the table .*'asl_alpha'"):
        study_main(['--report-only', '--records-dir', records, '--out',
                           str(tmp_path / 'out'), '--baseline', 'asl_alpha'])
