"""asl_det.benchmark.analysis.report: comparison tables in plain text and markdown."""
import pytest

from asl_det.benchmark.analysis import (
    Run,
    comparison_report,
    metrics_table,
    per_class_table,
    training_table,
)
from asl_det.benchmark.analysis.report import format_duration


def make_run(name, ap=None, per_class=None, probabilities=None, train_time_s=None, iters=0):
    metrics = {}
    if ap is not None:
        metrics = {'coco/bbox_mAP': ap, 'coco/bbox_mAP_50': ap + 0.2,
                   'coco/bbox_mAP_75': ap - 0.05, 'coco/bbox_mAP_s': ap - 0.1,
                   'coco/bbox_mAP_m': ap, 'coco/bbox_mAP_l': -1.0}
    return Run(name=name, work_dir=name, train=[dict(iter=i) for i in range(1, iters + 1)],
               val=[dict(metrics, step=iters, iter=iters)] if metrics else [],
               final_metrics=metrics, per_class_ap=per_class or {},
               train_time_s=train_time_s, probabilities=probabilities or {})


def rows(table):
    """Markdown table -> list of cell lists (header first, separator dropped)."""
    lines = [line for line in table.splitlines() if line.startswith('|')]
    return [[c.strip() for c in line.strip('|').split('|')] for line in lines if '---' not in line]


def test_metrics_table_markdown_with_differences():
    table = metrics_table([make_run('focal', 0.300), make_run('asl', 0.312)], markdown=True)
    header, focal, asl = rows(table)
    assert header == ['run', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']
    assert focal == ['focal', '0.300', '0.500', '0.250', '0.200', '0.300', 'n/a']
    assert asl == ['asl', '0.312 (+0.012)', '0.512 (+0.012)', '0.262 (+0.012)',
                   '0.212 (+0.012)', '0.312 (+0.012)', 'n/a']


def test_metrics_table_plain_text_is_aligned():
    table = metrics_table([make_run('focal', 0.3), make_run('asl_long_name', 0.25)],
                          markdown=False)
    lines = table.splitlines()
    assert '|' not in table
    assert lines[0].split() == ['run', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']
    assert set(lines[1]) <= {'-', ' '}
    assert lines[3].startswith('asl_long_name') and '0.250 (-0.050)' in lines[3]
    assert len({len(line) for line in lines[:2]}) == 1  # header as wide as the rule


def test_metrics_table_notes_runs_without_validation():
    table = metrics_table([make_run('focal', 0.3), make_run('crashed')])
    assert rows(table)[2] == ['crashed'] + ['-'] * 6
    assert 'No validation results in: crashed.' in table


def test_per_class_table_differences_and_missing_classwise():
    runs = [make_run('focal', 0.3, {'cat': 0.5, 'dog': 0.25}),
            make_run('plain', 0.3),
            make_run('asl', 0.3, {'cat': 0.45, 'dog': 0.5, 'cow': 0.1})]
    table = per_class_table(runs, markdown=True)
    assert rows(table) == [['class', 'focal', 'asl'],
                           ['cat', '0.500', '0.450 (-0.050)'],
                           ['dog', '0.250', '0.500 (+0.250)'],
                           ['cow', '-', '0.100']]
    assert 'No per-class AP in: plain' in table and 'classwise=True' in table


def test_per_class_table_without_any_per_class_numbers():
    text = per_class_table([make_run('a', 0.1), make_run('b', 0.2)], markdown=False)
    assert text.startswith('No per-class AP in: a, b')


def test_training_table():
    runs = [make_run('focal', 0.3, iters=100, train_time_s=3725.0,
                     probabilities=dict(asl_pos_prob=0.21, asl_neg_prob=0.012,
                                        asl_prob_gap=0.778)),
            make_run('asl', 0.3, iters=100, train_time_s=None,
                     probabilities=dict(asl_pos_prob=0.4, asl_neg_prob=0.03, asl_prob_gap=0.57,
                                        asl_gamma_neg=4.0))]
    header, focal, asl = rows(training_table(runs))
    assert header == ['run', 'iters', 'train time', 'p(pos)', 'p(neg)', 'gap', 'gamma_neg']
    assert focal == ['focal', '100', '1h 02m 05s', '0.2100', '0.0120', '0.7780', '-']
    assert asl == ['asl', '100', '-', '0.4000', '0.0300', '0.5700', '4.000']


@pytest.mark.parametrize('seconds,text', [(None, '-'), (12.34, '12.3s'), (123, '2m 03s'),
                                          (3725, '1h 02m 05s')])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_comparison_report_sections():
    runs = [make_run('focal', 0.3, {'cat': 0.5}), make_run('asl', 0.31, {'cat': 0.6})]
    markdown = comparison_report(runs, markdown=True)
    for title in ('## Final COCO box AP (difference to focal)',
                  '## Per-class AP (difference to focal)', '## Training'):
        assert title in markdown
    plain = comparison_report(runs, markdown=False)
    assert 'Final COCO box AP (difference to focal)\n=====' in plain and '|' not in plain


@pytest.mark.parametrize('table', [metrics_table, per_class_table, training_table,
                                   comparison_report])
def test_tables_need_runs(table):
    with pytest.raises(ValueError, match='runs'):
        table([])
