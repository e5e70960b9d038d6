"""Summaries of study records: mean and spread over seeds, and paired differences to a baseline.

The verdict rule: a variant is "better" or "worse" than the baseline in a condition only where
the mean of its per-seed paired differences (same seed, same data, same initialisation) exceeds
twice its standard error; otherwise "no measurable difference". With fewer than two paired
seeds there is no standard error, and the verdict says so.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

#: Needed for a standard error, hence for any verdict.
MIN_PAIRED_SEEDS = 2


def mean_std(values: Sequence[float]):
    """(mean, sample standard deviation with n - 1); std is NaN for one value, both for none."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def verdict(mean_diff: float, std_error: float, paired_seeds: int) -> str:
    """'better', 'worse', 'no measurable difference' or 'too few seeds' (see module docstring)."""
    if paired_seeds < MIN_PAIRED_SEEDS or not math.isfinite(std_error):
        return 'too few seeds'
    if abs(mean_diff) > 2 * std_error:
        return 'better' if mean_diff > 0 else 'worse'
    return 'no measurable difference'


@dataclass
class CellSummary:
    """One (condition, variant) cell of the study table; metric values are COCO box AP etc."""
    condition: str
    variant: str
    seeds: List[int]
    mean: float
    std: float
    values: List[float]
    paired_seeds: List[int]
    paired_diffs: List[float]
    mean_diff: float
    std_diff: float
    std_error: float
    verdict: str


def metric_of(record: Dict, metric: str) -> float:
    """``record['metrics'][metric]``; KeyError naming the record if absent."""
    try:
        return float(record['metrics'][metric])
    except KeyError:
        raise KeyError(f"record {record['condition']}/{record['variant']}_seed{record['seed']} "
                       f'has no metric {metric!r}') from None


def summarise(records: Sequence[Dict], metric: str = 'bbox_mAP', baseline: str = 'focal',
              variant_order: Optional[Sequence[str]] = None) -> List[CellSummary]:
    """One :class:`CellSummary` per (condition, variant) present in ``records``.

    Paired differences are ``variant - baseline`` for the seeds both have in that condition;
    their standard error is ``std / sqrt(n)``. The baseline's own cell has no differences.
    Cells are ordered by condition, then by ``variant_order`` (unlisted variants last, by name).
    """
    by_cell: Dict = {}
    for record in records:
        key = (record['condition'], record['variant'])
        by_cell.setdefault(key, {})[record['seed']] = metric_of(record, metric)
    order = list(variant_order or [])

    def rank(key):
        condition, variant = key
        return (condition, order.index(variant) if variant in order else len(order), variant)

    summaries = []
    for condition, variant in sorted(by_cell, key=rank):
        values_by_seed = by_cell[(condition, variant)]
        seeds = sorted(values_by_seed)
        values = [values_by_seed[s] for s in seeds]
        mean, std = mean_std(values)
        base = by_cell.get((condition, baseline), {}) if variant != baseline else {}
        paired = [s for s in seeds if s in base]
        diffs = [values_by_seed[s] - base[s] for s in paired]
        mean_diff, std_diff = mean_std(diffs)
        std_error = std_diff / math.sqrt(len(diffs)) if len(diffs) >= 2 else math.nan
        summaries.append(CellSummary(
            condition=condition, variant=variant, seeds=seeds, mean=mean, std=std,
            values=values, paired_seeds=paired, paired_diffs=diffs, mean_diff=mean_diff,
            std_diff=std_diff, std_error=std_error,
            verdict=verdict(mean_diff, std_error, len(diffs)) if variant != baseline else
            'baseline'))
    return summaries
