"""Study statistics on synthetic records: means, spreads, paired differences, the verdict rule."""
import math

import pytest

from asl_det.benchmark.study import (
    complete_records,
    mean_std,
    study_table,
    summarise,
    verdict,
    verdict_lines,
)


def record(variant, seed, ap, condition='clean', ap50=None):
    return dict(variant=variant, condition=condition, seed=seed,
                metrics=dict(bbox_mAP=ap, bbox_mAP_50=ap if ap50 is None else ap50))


def cell(summaries, condition, variant):
    (found,) = [c for c in summaries if c.condition == condition and c.variant == variant]
    return found


def test_mean_std_is_the_sample_statistic():
    mean, std = mean_std([0.1, 0.2, 0.3, 0.6])
    assert mean == pytest.approx(0.3)
    assert std == pytest.approx(math.sqrt((0.04 + 0.01 + 0 + 0.09) / 3))
    assert math.isnan(mean_std([0.4])[1]) and mean_std([0.4])[0] == 0.4
    assert all(math.isnan(v) for v in mean_std([]))


@pytest.mark.parametrize('mean_diff,std_error,n,expected', [
    (0.011, 0.005, 3, 'better'), (-0.011, 0.005, 3, 'worse'),
    (0.010, 0.005, 3, 'no measurable difference'),  # exactly 2 s.e. is not beyond it
    (-0.009, 0.005, 5, 'no measurable difference'), (0.5, math.nan, 1, 'too few seeds'),
    (0.5, 0.0001, 1, 'too few seeds')])
def test_verdict_needs_twice_the_standard_error(mean_diff, std_error, n, expected):
    assert verdict(mean_diff, std_error, n) == expected


def test_paired_differences_are_taken_per_seed_against_the_baseline():
    records = [record('focal', 0, 0.30), record('focal', 1, 0.40), record('focal', 2, 0.35),
               # a constant +0.02 per seed: tiny spread of differences, although the seed
               # spread (0.05) dwarfs it -> pairing makes it measurable
               record('asl', 0, 0.32), record('asl', 1, 0.42), record('asl', 2, 0.37),
               # noisy differences around 0
               record('noisy', 0, 0.33), record('noisy', 1, 0.38), record('noisy', 2, 0.35),
               record('asl', 0, 0.10, condition='missing50')]
    summaries = summarise(records, 'bbox_mAP', 'focal', ['focal', 'asl', 'noisy'])
    asl = cell(summaries, 'clean', 'asl')
    assert asl.seeds == [0, 1, 2] and asl.mean == pytest.approx(0.37)
    assert asl.paired_diffs == pytest.approx([0.02, 0.02, 0.02])
    assert asl.mean_diff == pytest.approx(0.02) and asl.std_error == pytest.approx(0, abs=1e-12)
    assert asl.verdict == 'better'
    noisy = cell(summaries, 'clean', 'noisy')
    assert noisy.paired_diffs == pytest.approx([0.03, -0.02, 0.0])
    expected_se = mean_std([0.03, -0.02, 0.0])[1] / math.sqrt(3)
    assert noisy.std_error == pytest.approx(expected_se)
    assert noisy.verdict == 'no measurable difference'
    assert cell(summaries, 'clean', 'focal').verdict == 'baseline'
    # no baseline in that condition: nothing to pair with
    lonely = cell(summaries, 'missing50', 'asl')
    assert lonely.paired_seeds == [] and lonely.verdict == 'too few seeds'
    assert [c.variant for c in summaries if c.condition == 'clean'] == ['focal', 'asl', 'noisy']


def test_only_shared_seeds_are_paired():
    records = [record('focal', 0, 0.3), record('focal', 1, 0.3),
               record('asl', 1, 0.2), record('asl', 2, 0.9)]
    asl = cell(summarise(records), 'clean', 'asl')
    assert asl.paired_seeds == [1] and asl.paired_diffs == pytest.approx([-0.1])
    assert asl.seeds == [1, 2]


def test_table_and_verdict_sentences_report_each_cell():
    records = [record(v, s, ap) for v, s, ap in [
        ('focal', 0, 0.30), ('focal', 1, 0.40), ('focal', 2, 0.35),
        ('asl_paper', 0, 0.25), ('asl_paper', 1, 0.36), ('asl_paper', 2, 0.30)]]
    table = study_table(records)
    assert '| clean | focal | 0,1,2 | 0.350 ± 0.050 |' in table
    assert '| clean | asl_paper | 0,1,2 | 0.303 ± 0.055 |' in table
    assert '-0.047 ± 0.003' in table and '| worse |' in table
    (line,) = verdict_lines(records)
    assert line.startswith('- **clean**') and 'worse: asl_paper (-0.047 ± 0.003)' in line


def test_a_record_without_the_metric_is_named():
    with pytest.raises(KeyError, match='clean/asl_seed3'):
        summarise([dict(variant='asl', condition='clean', seed=3, metrics={})])


def test_only_variants_with_enough_seeds_in_every_condition_are_complete():
    records = [record('focal', s, 0.3, c) for s in (0, 1, 2) for c in ('clean', 'missing50')]
    records += [record('asl', s, 0.3, 'clean') for s in (0, 1, 2)]
    records += [record('asl', 0, 0.3, 'missing50')]
    kept, incomplete = complete_records(records, min_seeds=3)
    assert {r['variant'] for r in kept} == {'focal'} and len(kept) == 6
    assert incomplete == {'asl': {'clean': 3, 'missing50': 1}}
    assert complete_records(records, min_seeds=1)[1] == {}
