"""Study statistics on synthetic records with known answers: paired t CIs, p-values, Holm."""
import math

import numpy as np
import pytest
from scipy import stats

from asl_det.benchmark.study import holm, paired_test, summarise
from asl_det.benchmark.study.statistics import mean_std


def record(variant, seed, ap, condition='clean'):
    return dict(variant=variant, condition=condition, seed=seed,
                metrics=dict(bbox_mAP=ap, bbox_mAP_50=2 * ap))


def cell(summaries, condition, variant):
    (found,) = [c for c in summaries if c.condition == condition and c.variant == variant]
    return found


def test_mean_std_is_the_sample_statistic():
    mean, std = mean_std([0.1, 0.2, 0.3, 0.6])
    assert mean == pytest.approx(0.3)
    assert std == pytest.approx(math.sqrt((0.04 + 0.01 + 0 + 0.09) / 3))
    assert math.isnan(mean_std([0.4])[1]) and mean_std([0.4])[0] == 0.4
    assert all(math.isnan(v) for v in mean_std([]))


def test_paired_interval_uses_the_t_quantile_with_seeds_minus_one_degrees():
    # differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01, s.e. 0.01 / sqrt(3); t(0.975, 2) = 4.303
    test = paired_test([0.21, 0.32, 0.43], [0.20, 0.30, 0.40])
    half_width = 4.302653 * 0.01 / math.sqrt(3)
    assert test.mean == pytest.approx(0.02)
    assert (test.ci_low, test.ci_high) == pytest.approx((0.02 - half_width, 0.02 + half_width))
    # t = 0.02 / (0.01 / sqrt 3) = 3.464 on 2 df: two-sided p = 0.0742
    assert test.p_value == pytest.approx(0.07417, abs=1e-4)
    assert test.n == 3


def test_the_old_two_standard_error_rule_said_better_where_the_t_test_does_not():
    # mean 0.021, s.e. 0.005: 4.2 s.e. ("better" by the 2-s.e. rule) but t(2) critical is 4.30
    diffs = np.array([0.0123397, 0.0210000, 0.0296603])
    base = np.array([0.30, 0.31, 0.29])
    test = paired_test(base + diffs, base)
    assert test.mean / (np.std(diffs, ddof=1) / math.sqrt(3)) == pytest.approx(4.2, abs=1e-3)
    assert test.p_value > 0.05 and test.ci_low < 0 < test.ci_high
    records = [record('focal', s, b) for s, b in enumerate(base)]
    records += [record('asl_paper', s, b + d) for s, (b, d) in enumerate(zip(base, diffs))]
    (asl,) = [c for c in summarise(records) if c.variant == 'asl_paper']
    assert asl.verdict == 'no measurable difference'


def test_summaries_agree_with_scipy_and_holm_adjusts_over_the_table():
    rng = np.random.default_rng(0)
    base = {c: rng.normal(0.3, 0.02, 5) for c in ('clean', 'missing50')}
    shifts = dict(asl_paper=-0.03, asl_paper_prior10=0.001, focal_margin_prior10=0.02)
    records = [record('focal', s, v, c) for c, values in base.items()
               for s, v in enumerate(values)]
    for variant, shift in shifts.items():
        for c, values in base.items():
            noisy = values + shift + rng.normal(0, 0.004, 5)
            records += [record(variant, s, v, c) for s, v in enumerate(noisy)]
    cells = summarise(records, variants=list(shifts))
    tested = [c for c in cells if c.variant != 'focal']
    assert len(tested) == 6
    raw = []
    for c in tested:
        ours = np.array(c.values)
        theirs = base[c.condition]
        assert c.test.p_value == pytest.approx(stats.ttest_rel(ours, theirs).pvalue)
        low, high = stats.t.interval(0.95, 4, loc=np.mean(ours - theirs),
                                     scale=stats.sem(ours - theirs))
        assert (c.test.ci_low, c.test.ci_high) == pytest.approx((low, high))
        raw.append(c.test.p_value)
    # Holm by hand: sorted p times (m - rank), running maximum, capped at 1
    order = np.argsort(raw)
    expected, running = np.empty(6), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (6 - rank) * raw[index]))
        expected[index] = running
    assert [c.p_adjusted for c in tested] == pytest.approx(expected.tolist())
    for c, p in zip(tested, expected):
        want = ('better' if c.test.mean > 0 else 'worse') if p < 0.05 else \
            'no measurable difference'
        assert c.verdict == want
    assert cell(cells, 'clean', 'asl_paper').verdict == 'worse'
    assert cell(cells, 'clean', 'focal').verdict == 'baseline'


def test_holm_is_statsmodels_step_down():
    reject, adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert reject == [True, False, False, True]
    assert holm([]) == ([], [])


def test_cells_below_three_paired_seeds_are_left_out_of_the_adjustment():
    records = [record('focal', s, 0.3 + s / 100) for s in range(3)]
    records += [record('asl_paper', s, 0.35 + s / 100) for s in range(2)]
    records += [record('focal_margin', s, 0.3 + s / 100 + 0.01 * (s + 1)) for s in range(3)]
    cells = summarise(records)
    assert cell(cells, 'clean', 'asl_paper').verdict == 'too few seeds'
    assert math.isnan(cell(cells, 'clean', 'asl_paper').p_adjusted)
    margin = cell(cells, 'clean', 'focal_margin')
    assert margin.p_adjusted == pytest.approx(margin.test.p_value)  # a family of one


def test_identical_differences_have_a_zero_width_interval_and_the_sign_tests_p():
    """The t statistic is undefined (infinite): p is the exact sign test's, 2 * 0.5^n, not 0,
    which Holm would reject whatever the family (rounded AP gives such differences)."""
    test = paired_test([0.5, 0.75, 1.0], [0.25, 0.5, 0.75])  # exact in binary
    assert test.ci_low == test.ci_high == 0.25 and test.p_value == 0.25
    assert paired_test([0.501] * 5, [0.5] * 5).p_value == pytest.approx(
        stats.binomtest(5, 5, 0.5).pvalue) == pytest.approx(0.0625)
    records = [record('focal', s, 0.5) for s in range(5)]
    records += [record('same_gain', s, 0.5 + 2 ** -10) for s in range(5)]
    assert cell(summarise(records), 'clean', 'same_gain').verdict == 'no measurable difference'
    assert paired_test([0.3, 0.4], [0.3, 0.4]).p_value == 1.0
    assert math.isnan(paired_test([0.3], [0.2]).p_value)
    with pytest.raises(ValueError, match='pair up'):
        paired_test([0.3, 0.2], [0.3])


def test_only_seeds_both_variants_ran_are_paired():
    records = [record('focal', s, 0.3) for s in range(4)]
    records += [record('asl_paper', s, 0.3 + 0.01 * s) for s in (1, 2, 3, 7)]
    asl = cell(summarise(records), 'clean', 'asl_paper')
    assert asl.paired_seeds == [1, 2, 3] and asl.seeds == [1, 2, 3, 7]
    assert asl.test.mean == pytest.approx(0.02)


def test_a_cell_with_a_non_finite_value_is_not_tested_nor_in_the_family():
    """A NaN p-value would otherwise enter Holm (statsmodels rejects it along with the others)
    and the cell would read 'worse'."""
    records = [record('focal', s, 0.3 + s / 100) for s in range(3)]
    records += [record('a', s, 0.3 + s / 100 + 0.01 * (s + 1)) for s in range(3)]
    records += [record('b', s, 0.32 + s / 100 + 0.001 * s) for s in range(3)]
    records += [record('c', s, math.nan if s == 1 else 0.2) for s in range(3)]
    cells = summarise(records)
    nan_cell = cell(cells, 'clean', 'c')
    assert nan_cell.verdict == 'not tested: a value is not finite'
    assert math.isnan(nan_cell.p_adjusted)
    family = [cell(cells, 'clean', v).test.p_value for v in ('a', 'b')]
    assert [cell(cells, 'clean', v).p_adjusted for v in ('a', 'b')] == pytest.approx(
        list(holm(family)[1]))  # a family of two


def curve_record(seed, last, before, variant='focal'):
    return dict(record(variant, seed, last), curve=[dict(iter=100, bbox_mAP=before),
                                                    dict(iter=200, bbox_mAP=last)])


@pytest.mark.parametrize('seeds,verdict', [(2, 'too few seeds'), (3, 'no measurable rise')])
def test_the_end_of_schedule_verdict_needs_three_seeds_and_claims_no_plateau(seeds, verdict):
    from asl_det.benchmark.study.report import plateau_table
    rises = [0.03, -0.02, 0.01][:seeds]
    table = plateau_table([curve_record(s, 0.5 + rise, 0.5) for s, rise in enumerate(rises)])
    assert table.splitlines()[-1].rstrip(' |').endswith(verdict)
    rising = plateau_table([curve_record(s, 0.52 + s / 1000, 0.5) for s in range(3)])
    assert rising.splitlines()[-1].rstrip(' |').endswith('still rising')


def test_a_p_value_rounded_onto_alpha_shows_its_side():
    from asl_det.benchmark.study.report import _p
    assert (_p(0.0496), _p(0.0504), _p(0.0449), _p(0.0005)) == ('0.0496', '0.0504', '0.045',
                                                                 '<0.001')


def test_a_record_found_elsewhere_than_its_own_file_is_refused(tmp_path):
    """A copied or renamed record would be counted twice, or replace another seed's value."""
    import shutil

    from asl_det.benchmark.study import write_record
    from asl_det.benchmark.study.records import load_records
    written = write_record(str(tmp_path), dict(record('focal', 0, 0.5), loss_cls={},
                                                iterations=10, wall_time_s=1.0,
                                                versions={}))
    assert [r['seed'] for r in load_records(str(tmp_path))] == [0]
    assert load_records(str(tmp_path / 'not_yet')) == []  # a study before its first record
    shutil.copy(written, tmp_path / 'clean' / 'focal_seed7.json')
    with pytest.raises(ValueError, match=r'focal_seed7.json: holds the record of clean focal '
                       r'seed 0, whose file is .*focal_seed0.json'):
        load_records(str(tmp_path))
