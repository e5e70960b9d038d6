"""asl_det.benchmark.study.verdict_blocks: the verdict tables generated into the documents."""
import os
import os.path as osp
import runpy

import numpy as np
import pytest
from scipy import stats

from asl_det.benchmark.study import write_record
from asl_det.benchmark.study.report import comparison_table
from asl_det.benchmark.study.verdict_blocks import (
    CLOSE,
    find_blocks,
    marker,
    render_block,
    rewrite_blocks,
    update_documents,
    verdict_table,
)

STUDY = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
                 'tools', 'study.py')
#: box AP per (condition, variant) over seeds 0-3.
AP = {('clean', 'focal'): [0.30, 0.31, 0.32, 0.33],
      ('clean', 'asl_paper'): [0.32, 0.335, 0.34, 0.352],
      ('clean', 'focal_margin_prior10'): [0.30, 0.312, 0.318, 0.331],
      ('missing50', 'focal'): [0.20, 0.22, 0.21, 0.23],
      ('missing50', 'asl_paper'): [0.18, 0.205, 0.19, 0.2],
      ('missing50', 'focal_margin_prior10'): [0.21, 0.22, 0.215, 0.236],
      ('clean', 'focal_prior10'): [0.31, 0.3, 0.33, 0.31]}


def records():
    return [dict(variant=variant, condition=condition, seed=seed, iterations=10,
                 metrics=dict(bbox_mAP=ap, bbox_mAP_50=ap), config='tiny.py', loss_cls={},
                 wall_time_s=1.0, versions=dict(torch='x'), device='cpu', detector='FCOS')
            for (condition, variant), aps in AP.items() for seed, ap in enumerate(aps)]


def rows(table):
    return [[cell.strip() for cell in line.strip('|').split('|')]
            for line in table.splitlines()[2:]]


def test_the_table_holds_the_primary_rows_of_the_report():
    table = verdict_table(records())
    report = {(r[0], r[1]): r for r in rows(comparison_table(records(), [
        'asl_paper', 'asl_paper_prior10', 'focal_margin_prior10']))}
    assert [(r[0], r[1]) for r in rows(table)] == list(report)  # same cells, same order
    for row in rows(table):
        full = report[(row[0], row[1])]
        # seeds, box AP, Δ [CI], p (Holm), verdict: the report's, same Holm family
        assert row[2:4] == full[2:4] and row[4:] == full[5:6] + full[7:]
    assert 'focal_prior10' not in table  # exploratory


def test_the_figures_are_the_paired_t_test_and_holm():
    table = {(r[0], r[1]): r for r in rows(verdict_table(records()))}
    p_values, means = [], {}
    for condition in ('clean', 'missing50'):
        for variant in ('asl_paper', 'focal_margin_prior10'):
            diffs = np.subtract(AP[(condition, variant)], AP[(condition, 'focal')])
            half = stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / len(diffs) ** 0.5
            means[(condition, variant)] = (diffs.mean(), half)
            p_values.append(((condition, variant), stats.ttest_rel(
                AP[(condition, variant)], AP[(condition, 'focal')]).pvalue))
    # Holm by hand: k-th smallest times (m - k + 1), running maximum
    ordered = sorted(p_values, key=lambda item: item[1])
    running = 0.0
    for k, (cell, p) in enumerate(ordered):
        running = max(running, min(1.0, p * (len(ordered) - k)))
        mean, half = means[cell]
        row = table[cell]
        assert row[4] == f'{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]'
        assert row[5] == ('<0.001' if running < 0.001 else f'{running:.3f}')
        assert row[6] == ('no measurable difference' if running >= 0.05 else
                          'better' if mean > 0 else 'worse')
    assert table[('clean', 'focal')][2:] == ['4', '0.315 ± 0.013', '-', '-', 'baseline']


def test_the_block_links_the_report_from_the_document_folder():
    block = render_block({'configs/x/study/': records()}, 'docs')
    assert block.startswith('<!-- study-table: configs/x/study -->\n')
    assert block.endswith('\n' + CLOSE)
    assert '[configs/x/study/results.md](../configs/x/study/results.md)' in block
    assert '(`tiny.py`, 10 training iterations per run)' in block
    assert 'adjusted over the 4 comparisons of this table' in block
    assert '[configs/x/study/results.md](configs/x/study/results.md)' in render_block(
        {'configs/x/study': records()}, '')


def test_a_stale_block_is_rewritten_and_other_studies_are_left_alone():
    stale = f'{marker("a/study")}\n| typed by hand | +0.100 |\n{CLOSE}'
    other = f'{marker("b/study")}\nkept\n{CLOSE}'
    text = f'# Title\n\n{stale}\n\nprose\n\n{other}\n'
    new = rewrite_blocks(text, 'README.md', '', lambda _: records(), 'a/study/')
    assert new == (f'# Title\n\n{render_block({"a/study": records()}, "")}\n\nprose\n\n'
                   f'{other}\n')
    assert rewrite_blocks(new, 'README.md', '', lambda _: records(), 'a/study') == new


def test_options_given_go_into_the_marker_and_back():
    text = f'{marker("a/study")}\nold\n{CLOSE}\n'
    new = rewrite_blocks(text, 'doc.md', '', lambda _: records(), 'a/study',
                         baseline='focal', primary=['focal_margin_prior10'])
    assert new.startswith('<!-- study-table: a/study primary=focal_margin_prior10 -->\n')
    assert 'asl_paper' not in new
    [block] = find_blocks(new)
    assert (block.study_dirs, block.baseline, block.primary) == (
        ('a/study', ), 'focal', ('focal_margin_prior10',))
    # regenerated from its own marker, the block stays as written
    assert rewrite_blocks(new, 'doc.md', '', lambda _: records()) == new


@pytest.mark.parametrize('text,message', [
    ('x\n<!-- study-table: a/study -->\nno end\n', r'doc\.md:2: .*without its closing'),
    ('<!-- study-table: a -->\n<!-- study-table: b -->\n' + CLOSE, r'doc\.md:1: .*without'),
    ('<!-- study-table: a seeds=3 -->\n' + CLOSE, r"baseline=NAME or primary=.*'seeds=3'"),
    ('<!-- study-table: a a/ -->\n' + CLOSE, r"doc\.md:1: .*different study directories"),
    ('<!-- study-table: primary=x -->\n' + CLOSE, r"doc\.md:1: .*one or more"),
])
def test_malformed_markers_are_refused_with_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        find_blocks(text, 'doc.md')


def test_markers_in_code_or_prose_are_examples_not_blocks():
    text = (f'    {marker("a/study")}\n    {CLOSE}\n'
            f'Write `{marker("a/study")}` above the table.\n')
    assert find_blocks(text) == []
    assert rewrite_blocks(text, 'doc.md', '', lambda _: records()) == text


def test_a_block_without_records_is_refused():
    with pytest.raises(ValueError, match='a/study has no records'):
        rewrite_blocks(f'{marker("a/study")}\n{CLOSE}', 'doc.md', '', lambda _: [])


def test_the_study_tool_rewrites_the_blocks_of_its_study(tmp_path, capsys):
    repo = tmp_path / 'repo'
    study = repo / 'configs' / 'tiny' / 'study'
    for record in records():
        write_record(str(study / 'records'), record)
    os.makedirs(repo / 'docs')
    stale = f'{marker("configs/tiny/study")}\n| clean | asl_paper | +0.500 |\n{CLOSE}\n'
    (repo / 'README.md').write_text('# x\n\n' + stale)
    (repo / 'docs' / 'studies.md').write_text(stale)
    (repo / 'docs' / 'other.md').write_text('no blocks\n')
    main = runpy.run_path(STUDY)['main']
    main.__globals__['REPO'] = str(repo)
    main(['--report-only', '--study-dir', str(study)])
    assert 'verdict table rewritten in docs/studies.md' in capsys.readouterr().out
    readme = (repo / 'README.md').read_text()
    assert readme == '# x\n\n' + render_block({'configs/tiny/study': records()}, '') + '\n'
    assert (repo / 'docs' / 'studies.md').read_text() == render_block(
        {'configs/tiny/study': records()}, 'docs') + '\n'
    assert update_documents(str(repo), str(study), records()) == []  # nothing left to change
    # a marker's own primary= stays when --primary is not given (the pre-registered family)
    own = marker('configs/tiny/study', primary=['focal_margin_prior10'])
    (repo / 'README.md').write_text(f'{own}\nstale\n{CLOSE}\n')
    main(['--report-only', '--study-dir', str(study)])
    assert (repo / 'README.md').read_text() == render_block(
        {'configs/tiny/study': records()}, '', primary=['focal_margin_prior10']) + '\n'


def other_records():
    """A second study: the same grid, every box AP 0.1 higher and seed 2's focal lower."""
    shifted = []
    for record in records():
        ap = record['metrics']['bbox_mAP'] + 0.1 - 0.03 * (
            record['variant'] == 'focal' and record['seed'] == 2)
        shifted.append(dict(record, config='other.py', iterations=20,
                            metrics=dict(bbox_mAP=ap, bbox_mAP_50=ap)))
    return shifted


def test_a_block_of_several_studies_is_each_studys_table_under_a_study_column():
    studies = {'a/study': records(), 'b/study': other_records()}
    block = render_block(studies, 'docs')
    assert block.startswith('<!-- study-table: a/study b/study -->\n')
    table = block.split('\n\n', 1)[1].rsplit('\n', 1)[0]
    assert table.splitlines()[0].startswith('| study | condition | variant |')
    for study, study_records in studies.items():  # Holm within each study, as its own table
        own = rows(verdict_table(study_records))
        assert [row[1:] for row in rows(table) if row[0] == study] == own
    assert '(`tiny.py`, 10 training iterations per run; `other.py`, 20 training' in block
    assert 'adjusted over the comparisons of each study shown here (4 and 4)' in block
    assert ('full reports: [a/study/results.md](../a/study/results.md), '
            '[b/study/results.md](../b/study/results.md).') in block
    [parsed] = find_blocks(block)
    assert parsed.study_dirs == ('a/study', 'b/study')


def test_a_study_rewrites_the_blocks_it_shares_with_the_committed_records_of_the_others(
        tmp_path):
    repo = tmp_path / 'repo'
    for record in other_records():
        write_record(str(repo / 'b' / 'study' / 'records'), record)
    (repo / 'README.md').write_text(f'{marker(["a/study", "b/study"])}\nstale\n{CLOSE}\n'
                                    f'{marker("b/study")}\nkept\n{CLOSE}\n')
    assert update_documents(str(repo), str(repo / 'a' / 'study'), records()) == [
        str(repo / 'README.md')]
    assert (repo / 'README.md').read_text() == render_block(
        {'a/study': records(), 'b/study': other_records()}, '') + \
        f'\n{marker("b/study")}\nkept\n{CLOSE}\n'
