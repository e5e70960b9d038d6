"""Paired comparisons of study records against a baseline variant: t-based CIs, Holm's method.

Every variant of a study trains with the same seeds, data and initial weights as the baseline,
so its metric is compared seed by seed. Per (condition, variant) cell: the paired differences
``variant - baseline``, their mean, a t-based 95% confidence interval (df = paired seeds - 1),
and the two-sided paired t-test's p-value (:func:`scipy.stats.ttest_rel`; the exact sign test's
where all differences are equal, :func:`paired_test`). The p-values of one
table are adjusted together with Holm's method (:func:`statsmodels.stats.multitest.multipletests`),
and a cell is "better" or "worse" only where the adjusted test rejects at ``alpha``; otherwise
"no measurable difference"; with fewer than :data:`MIN_PAIRED_SEEDS` paired seeds, "too few
seeds" (and the cell is left out of the adjustment).
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy import stats

#: Paired seeds a cell needs for a test (with 2 the t interval is too wide to mean anything).
MIN_PAIRED_SEEDS = 3
#: Family-wise error rate of each table.
ALPHA = 0.05


def mean_std(values: Sequence[float]):
    """(mean, sample standard deviation with n - 1); std is NaN for one value, both for none."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else math.nan


@dataclass
class PairedTest:
    """The paired comparison of one cell: differences ``variant - baseline`` over seeds."""
    diffs: List[float]
    mean: float
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def n(self) -> int:
        return len(self.diffs)


def paired_test(values: Sequence[float], baseline: Sequence[float],
                confidence: float = 1 - ALPHA) -> PairedTest:
    """Mean paired difference, its t-based ``confidence`` interval and the paired t-test p-value.

    ``values[i]`` and ``baseline[i]`` belong to the same seed. With identical differences the
    interval has zero width and the t statistic is undefined: p is 1 where they are all zero,
    else the exact two-sided sign test's, ``2 * 0.5^n`` (0.0625 for 5 seeds: a difference the
    same at every seed, as rounded AP can give, is no evidence by that alone). NaN interval and p
    below two pairs.
    """
    values, baseline = np.asarray(values, float), np.asarray(baseline, float)
    if values.shape != baseline.shape:
        raise ValueError(f'values and baseline must pair up, got {values.shape} and '
                         f'{baseline.shape}')
    diffs = values - baseline
    n = diffs.size
    mean = float(diffs.mean()) if n else math.nan
    if n < 2:
        return PairedTest(diffs.tolist(), mean, math.nan, math.nan, math.nan)
    sem = float(stats.sem(diffs))
    if sem == 0:
        p_value = 1.0 if mean == 0 else float(stats.binomtest(n, n, 0.5).pvalue)
        return PairedTest(diffs.tolist(), mean, mean, mean, p_value)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    p_value = float(stats.ttest_rel(values, baseline).pvalue)
    return PairedTest(diffs.tolist(), mean, float(low), float(high), p_value)


def holm(p_values: Sequence[float], alpha: float = ALPHA):
    """(reject, adjusted p-values) by Holm's step-down method over ``p_values``."""
    from statsmodels.stats.multitest import multipletests
    if len(p_values) == 0:
        return [], []
    reject, adjusted, _, _ = multipletests(list(p_values), alpha=alpha, method='holm')
    return [bool(r) for r in reject], [float(p) for p in adjusted]


@dataclass
class CellSummary:
    """One (condition, variant) cell of a table; metric values are e.g. COCO box AP."""
    condition: str
    variant: str
    seeds: List[int]
    values: List[float]
    mean: float
    std: float
    paired_seeds: List[int]
    test: Optional[PairedTest] = None
    p_adjusted: float = math.nan
    verdict: str = 'baseline'


def metric_of(record: Dict, metric: str) -> float:
    """``record['metrics'][metric]``; KeyError naming the record if absent."""
    try:
        return float(record['metrics'][metric])
    except KeyError:
        raise KeyError(f"record {record['condition']}/{record['variant']}_seed{record['seed']} "
                       f'has no metric {metric!r}') from None


def _values_by_cell(records: Sequence[Dict], metric: str) -> Dict:
    by_cell: Dict = {}
    for record in records:
        key = (record['condition'], record['variant'])
        by_cell.setdefault(key, {})[record['seed']] = metric_of(record, metric)
    return by_cell


def summarise(records: Sequence[Dict], metric: str = 'bbox_mAP', baseline: str = 'focal',
              variants: Optional[Sequence[str]] = None, alpha: float = ALPHA,
              value_of=None) -> List[CellSummary]:
    """One :class:`CellSummary` per (condition, variant) of ``variants`` (default: all present,
    by name) found in ``records``, the baseline's own cells first; the p-values of all
    non-baseline cells returned are Holm-adjusted together (one table = one family).

    ``value_of(record) -> float`` replaces ``record['metrics'][metric]`` (e.g. a per-class AP).
    """
    if value_of is None:
        by_cell = _values_by_cell(records, metric)
    else:
        by_cell = {}
        for record in records:
            by_cell.setdefault((record['condition'], record['variant']), {})[record['seed']] = (
                value_of(record))
    present = sorted({variant for _, variant in by_cell})
    order = [baseline] + [v for v in (variants if variants is not None else present)
                          if v != baseline]
    summaries = []
    for condition in sorted({condition for condition, _ in by_cell}):
        for variant in order:
            by_seed = by_cell.get((condition, variant))
            if by_seed is None:
                continue
            seeds = sorted(by_seed)
            values = [by_seed[s] for s in seeds]
            mean, std = mean_std(values)
            cell = CellSummary(condition, variant, seeds, values, mean, std, paired_seeds=[])
            if variant != baseline:
                base = by_cell.get((condition, baseline), {})
                cell.paired_seeds = [s for s in seeds if s in base]
                cell.test = paired_test([by_seed[s] for s in cell.paired_seeds],
                                        [base[s] for s in cell.paired_seeds])
                cell.verdict = 'too few seeds'
            summaries.append(cell)
    tested = []
    for c in summaries:
        if c.test is not None and c.test.n >= MIN_PAIRED_SEEDS:
            if math.isfinite(c.test.p_value):
                tested.append(c)
            else:  # a NaN metric: no test, and out of the family Holm adjusts over
                c.verdict = 'not tested: a value is not finite'
    reject, adjusted = holm([c.test.p_value for c in tested], alpha)
    for cell, rejected, p_adjusted in zip(tested, reject, adjusted):
        cell.p_adjusted = p_adjusted
        if rejected:
            cell.verdict = 'better' if cell.test.mean > 0 else 'worse'
        else:
            cell.verdict = 'no measurable difference'
    return summaries
