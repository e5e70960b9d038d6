"""The study's tables and plots, regenerated from the records alone.

Two tables of paired comparisons against the baseline (see :mod:`.statistics`): the primary
comparisons named before the runs (:data:`.variants.PRIMARY_VARIANTS`), and the exploratory rest;
Holm's adjustment runs within each table. Then per-class AP (exploratory), the learning curves
and whether AP was still rising at the end of the schedule.
"""
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

from asl_det.benchmark.analysis.tables import format_table

from .plotting import condition_panels, save_png
from .statistics import ALPHA, MIN_PAIRED_SEEDS, CellSummary, paired_test, summarise
from .unlabelled_anchors import last_evaluation_table, plot_unlabelled_anchors
from .variants import BASELINE, PRIMARY_VARIANTS, VARIANTS

#: More classes than this and the per-class table is left out of the report (not the records).
MAX_CLASSES_SHOWN = 12
#: (record metric, column title) shown in the tables.
TABLE_METRICS = (('bbox_mAP', 'box AP'), ('bbox_mAP_50', 'AP50'))


def _pm(mean: float, spread: float, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return 'n/a'
    if not math.isfinite(spread):
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {spread:.{digits}f}'


def _diff_ci(cell: CellSummary) -> str:
    test = cell.test
    if test is None or not math.isfinite(test.mean):
        return '-'
    if not math.isfinite(test.ci_low):
        return f'{test.mean:+.3f}'
    return f'{test.mean:+.3f} [{test.ci_low:+.3f}, {test.ci_high:+.3f}]'


def _p(value: float) -> str:
    """3 decimals; 4 where 3 would show ALPHA itself (0.0496 and 0.0504 fall on either side)."""
    if not math.isfinite(value):
        return '-'
    if value < 0.001:
        return '<0.001'
    return f'{value:.4f}' if f'{value:.3f}' == f'{ALPHA:.3f}' else f'{value:.3f}'


def _variants_in(records: Sequence[Dict], names: Sequence[str]) -> List[str]:
    """``names`` that have records, in order, each once."""
    present = {r['variant'] for r in records}
    return [v for v in dict.fromkeys(names) if v in present]


def _all_variants(records: Sequence[Dict]) -> List[str]:
    """The recorded variants: the named ones in :data:`VARIANTS`' order, then the user's own
    by name."""
    return _variants_in(records, list(VARIANTS) + sorted({r['variant'] for r in records}))


def comparison_table(records: Sequence[Dict], variants: Sequence[str], baseline: str = BASELINE,
                     markdown: bool = True) -> str:
    """One row per (condition, variant of ``variants``) plus the baseline's rows: seeds, mean ±
    std over seeds of each metric, and for box AP the paired difference to ``baseline`` with its
    95% CI, the p-value, the Holm-adjusted p-value over this table, and the verdict."""
    cells = summarise(records, 'bbox_mAP', baseline, variants)
    extra = {metric: {(c.condition, c.variant): c for c in summarise(records, metric, baseline,
                                                                      variants)}
             for metric, _ in TABLE_METRICS[1:]}
    header = ['condition', 'variant', 'seeds'] + [f'{title} (mean ± std)'
                                                  for _, title in TABLE_METRICS]
    header += [f'Δ box AP vs {baseline} [95% CI]', 'p', 'p (Holm)', 'verdict']
    rows = []
    for cell in cells:
        row = [cell.condition, cell.variant, len(cell.seeds), _pm(cell.mean, cell.std)]
        row += [_pm(extra[m][(cell.condition, cell.variant)].mean,
                    extra[m][(cell.condition, cell.variant)].std) for m in extra]
        p_value = cell.test.p_value if cell.test else math.nan
        row += [_diff_ci(cell), _p(p_value), _p(cell.p_adjusted), cell.verdict]
        rows.append(row)
    return format_table(header, rows, markdown=markdown)


def verdict_lines(records: Sequence[Dict], variants: Sequence[str],
                  baseline: str = BASELINE) -> List[str]:
    """One sentence per condition: the verdict of each of ``variants`` against ``baseline`` on
    box AP (Holm over the cells of ``variants``, as in :func:`comparison_table`)."""
    lines = []
    cells = [c for c in summarise(records, 'bbox_mAP', baseline, variants)
             if c.variant != baseline]
    for condition in sorted({cell.condition for cell in cells}):
        groups: Dict[str, List[str]] = {}
        for cell in (c for c in cells if c.condition == condition):
            groups.setdefault(cell.verdict, []).append(f'{cell.variant} ({_diff_ci(cell)})')
        parts = [f'{verdict}: {", ".join(names)}' for verdict, names in groups.items()]
        lines.append(f'- **{condition}** (box AP against {baseline}, mean paired difference '
                     '[95% CI]): ' + ('; '.join(parts) if parts else 'no variant recorded') + '.')
    return lines


def per_class_table(records: Sequence[Dict], variants: Sequence[str], baseline: str = BASELINE,
                    markdown: bool = True) -> Optional[str]:
    """Per-class AP, one row per (condition, class): the baseline's mean over seeds, and for each
    of ``variants`` its mean with the paired difference to ``baseline`` and its 95% CI.
    Exploratory: no verdicts. None without per-class AP in the records, or with more than
    :data:`MAX_CLASSES_SHOWN` classes (they stay in the records)."""
    classes = sorted({name for r in records for name in r.get('per_class_ap', {})})
    if not classes or len(classes) > MAX_CLASSES_SHOWN:
        return None
    header = ['condition', 'class', f'{baseline} AP'] + [f'{v} AP (Δ [95% CI])'
                                                         for v in variants]
    rows = []
    for name in classes:
        cells = {(c.condition, c.variant): c for c in summarise(
            records, baseline=baseline, variants=variants,
            value_of=lambda r: float(r.get('per_class_ap', {}).get(name, math.nan)))}
        for condition in sorted({condition for condition, _ in cells}):
            base = cells.get((condition, baseline))
            row = [condition, name, _pm(base.mean, math.nan) if base else '-']
            for variant in variants:
                cell = cells.get((condition, variant))
                row.append(f'{_pm(cell.mean, math.nan)} ({_diff_ci(cell)})' if cell else '-')
            rows.append(row)
    rows.sort(key=lambda row: (row[0], classes.index(row[1])))
    return format_table(header, rows, markdown=markdown)


def curves_of(records: Sequence[Dict]) -> Dict:
    """{(condition, variant): {seed: [(iteration, box AP), ...]}} for records with a curve."""
    curves: Dict = {}
    for r in records:
        points = [(p['iter'], p['bbox_mAP']) for p in r.get('curve', [])
                  if p.get('bbox_mAP') is not None]
        if len(points) >= 2:
            curves.setdefault((r['condition'], r['variant']), {})[r['seed']] = points
    return curves


def plateau_table(records: Sequence[Dict], markdown: bool = True) -> Optional[str]:
    """Per (condition, variant) with learning curves: box AP at the last evaluation minus the
    one before, paired over seeds with its 95% CI; "still rising" where the whole interval is
    above zero (the schedule is too short to judge that variant), else "no measurable rise" (not
    proof of a plateau: the interval says how large a rise it leaves open), "too few seeds"
    below :data:`~.statistics.MIN_PAIRED_SEEDS`. None without curves."""
    curves = curves_of(records)
    if not curves:
        return None
    rows = []
    for (condition, variant), by_seed in sorted(curves.items()):
        last = [points[-1][1] for points in by_seed.values()]
        before = [points[-2][1] for points in by_seed.values()]
        test = paired_test(last, before)
        step = sorted({points[-1][0] - points[-2][0] for points in by_seed.values()})
        rising = math.isfinite(test.ci_low) and test.ci_low > 0
        ci = (f'{test.mean:+.4f} [{test.ci_low:+.4f}, {test.ci_high:+.4f}]'
              if math.isfinite(test.ci_low) else f'{test.mean:+.4f}')
        verdict = ('too few seeds' if test.n < MIN_PAIRED_SEEDS or not math.isfinite(test.ci_low)
                   else 'still rising' if rising else 'no measurable rise')
        rows.append([condition, variant, len(by_seed), '/'.join(map(str, step)), ci, verdict])
    header = ['condition', 'variant', 'seeds', 'iterations between the last two evaluations',
              'Δ box AP over them [95% CI]', 'end of schedule']
    return format_table(header, rows, markdown=markdown)


def plot_study(records: Sequence[Dict], path: str, baseline: str = BASELINE) -> str:
    """Box AP per variant, one panel per condition: each seed a point, mean ± std a bar."""
    cells = summarise(records, 'bbox_mAP', baseline, _all_variants(records))
    conditions = sorted({cell.condition for cell in cells})
    fig, axes = condition_panels(conditions)
    for ax, condition in zip(axes, conditions):
        row = [c for c in cells if c.condition == condition]
        for x, cell in enumerate(row):
            ax.scatter([x] * len(cell.values), cell.values, s=14, color='0.4', zorder=3)
            ax.errorbar([x + 0.15], [cell.mean], yerr=[0 if math.isnan(cell.std) else cell.std],
                        fmt='o', color='C0' if cell.variant == baseline else 'C1', capsize=4)
        ax.set_xticks(range(len(row)))
        ax.set_xticklabels([c.variant for c in row], rotation=35, ha='right', fontsize=8)
        ax.grid(axis='y', alpha=0.3)
    axes[0].set_ylabel('COCO box AP (evaluation split)')
    return save_png(fig, path)


def plot_curves(records: Sequence[Dict], path: str) -> Optional[str]:
    """Box AP against training iterations, one panel per condition: per variant the mean over
    seeds as a line and the seeds' range as a band. None without learning curves."""
    curves = curves_of(records)
    if not curves:
        return None
    conditions = sorted({condition for condition, _ in curves})
    variants = _all_variants([dict(variant=v) for _, v in curves])
    fig, axes = condition_panels(conditions)
    for ax, condition in zip(axes, conditions):
        for colour, variant in enumerate(variants):
            by_seed = curves.get((condition, variant))
            if not by_seed:
                continue
            iters = sorted({i for points in by_seed.values() for i, _ in points})
            values = [[dict(points).get(i, math.nan) for points in by_seed.values()]
                      for i in iters]
            means = [sum(v) / len(v) for v in values]
            ax.plot(iters, means, color=f'C{colour}',
                    label=f'{variant} ({len(by_seed)} seeds)')
            ax.fill_between(iters, [min(v) for v in values], [max(v) for v in values],
                            color=f'C{colour}', alpha=0.15)
        ax.set_xlabel('training iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel('COCO box AP (evaluation split)')
    return save_png(fig, path)


def _machines(records: Sequence[Dict]) -> str:
    return '; '.join(sorted({
        f"{r['device']}" + (f", {r['threads']} thread(s) per run" if r.get('threads') else '')
        + f", torch {r['versions']['torch']}" for r in records}))


def check_primary(primary: Sequence[str], variants: Sequence[str],
                  baseline: str = BASELINE) -> None:
    """ValueError naming ``primary`` (``--primary``) when one of its names is the baseline or
    not among ``variants``: a misspelt name would turn a comparison named before the runs into
    an exploratory one without a word."""
    unknown = [v for v in primary if v not in variants or v == baseline]
    if unknown:
        choices = ', '.join(v for v in variants if v != baseline)
        raise ValueError(f'primary (--primary): {", ".join(unknown)} is not a variant compared '
                         f'with the baseline {baseline} in this study ({choices})')


def write_study_report(records: Sequence[Dict], out_dir: str, command: str,
                       baseline: str = BASELINE,
                       primary: Sequence[str] = PRIMARY_VARIANTS) -> Dict[str, str]:
    """Write ``results.md`` (the tables, verdicts, the command) and the plots under ``out_dir``;
    returns their paths (``curves`` only where the records hold learning curves)."""
    if not records:
        raise ValueError('no records to report')
    present = sorted({r['variant'] for r in records})
    if baseline not in present:
        raise ValueError(f'baseline must be a recorded variant ({", ".join(present)}), '
                         f'got {baseline!r}')
    primary = _variants_in(records, [v for v in primary if v != baseline])
    exploratory = [v for v in _all_variants(records)
                   if v != baseline and v not in primary]
    paths = dict(report=osp.join(out_dir, 'results.md'), plot=osp.join(out_dir, 'study.png'))
    plot_study(records, paths['plot'], baseline=baseline)
    curves = plot_curves(records, osp.join(out_dir, 'curves.png'))
    schedules = sorted({str(r['iterations']) for r in records})
    detectors = ' / '.join(sorted({r.get('detector', '?') for r in records}))
    configs = ', '.join(sorted({r.get('config', '?') for r in records}))
    text = [f'# Study: does ASL help the {detectors}? ({configs})', '',
            f'Regenerate: `{command}`', '',
            f'{len(records)} runs; {", ".join(schedules)} training iterations each; '
            f'{_machines(records)}. Paired over seeds (same data, order and initial weights); '
            'Δ: mean paired difference over the seeds a variant shares with the baseline, with '
            'its t-based 95% CI; p: paired t-test; p (Holm): '
            'adjusted over the table; better/worse only where the adjusted p < 0.05.', '']
    if primary:
        text += ['## Primary comparisons (named before the runs)', '',
                 comparison_table(records, primary, baseline), '',
                 *verdict_lines(records, primary, baseline), '']
    if exploratory:
        text += ['## Exploratory comparisons (adjusted within this table)', '',
                 comparison_table(records, exploratory, baseline), '',
                 *verdict_lines(records, exploratory, baseline), '']
    per_class = per_class_table(records, primary or exploratory, baseline)
    if per_class:
        text += [f'## Per-class AP (mean over seeds; Δ paired against {baseline}, '
                 'exploratory)', '', per_class, '']
    text += [f'![box AP per variant]({osp.basename(paths["plot"])})', '']
    if curves:
        paths['curves'] = curves
        text += ['## Learning curves', '', plateau_table(records), '',
                 f'![box AP against iterations]({osp.basename(curves)})', '']
    order = [baseline] + primary + exploratory
    probes = plot_unlabelled_anchors(records, osp.join(out_dir, 'unlabelled_anchors.png'), order)
    if probes:
        paths['unlabelled_anchors'] = probes
        text += ['## Where the unlabelled objects sit', '',
                 'Predicted probability of the anchors that the assigner makes negative although '
                 'they overlap a box dropped from the train labels (IoU >= the positive '
                 'threshold; probability of that box\'s class), against background anchors (IoU '
                 'below the negative threshold with every box, kept or dropped; the max over '
                 'classes), on the probe\'s fixed train images at the last evaluation (mean '
                 'over seeds). The separating threshold maximises share(unlabelled > t) - '
                 'share(background > t).',
                 '', last_evaluation_table(records, order), '',
                 f'![unlabelled anchors against iterations]({osp.basename(probes)})', '']
    with open(paths['report'], 'w') as f:
        f.write('\n'.join(text))
    return paths
