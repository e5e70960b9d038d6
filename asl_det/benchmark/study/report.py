"""The study's table and plot, regenerated from the records alone."""
import math
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from asl_det.benchmark.analysis.tables import format_table

from .statistics import CellSummary, summarise
from .variants import BASELINE, VARIANTS

#: (record metric, column title) shown in the table.
TABLE_METRICS = (('bbox_mAP', 'box AP'), ('bbox_mAP_50', 'AP50'))


def _pm(mean: float, spread: float, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return 'n/a'
    if not math.isfinite(spread):
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {spread:.{digits}f}'


def _signed(mean: float, spread: float) -> str:
    if not math.isfinite(mean):
        return 'n/a'
    text = f'{mean:+.3f}'
    return text if not math.isfinite(spread) else f'{text} ± {spread:.3f}'


def complete_records(records: Sequence[Dict], min_seeds: int = 3) -> Tuple[List[Dict], Dict]:
    """Split ``records`` into those of variants with at least ``min_seeds`` seeds in every
    condition of the study, and the rest as ``{variant: {condition: seeds recorded}}``."""
    conditions = sorted({r['condition'] for r in records})
    seeds: Dict[str, Dict[str, set]] = {}
    for r in records:
        seeds.setdefault(r['variant'], {c: set() for c in conditions})[r['condition']].add(
            r['seed'])
    incomplete = {variant: {c: len(s) for c, s in by_condition.items()}
                  for variant, by_condition in seeds.items()
                  if min(len(s) for s in by_condition.values()) < min_seeds}
    return [r for r in records if r['variant'] not in incomplete], incomplete


def study_table(records: Sequence[Dict], markdown: bool = True, baseline: str = BASELINE) -> str:
    """One row per (condition, variant): seeds, mean ± std over seeds of each metric, and the
    paired difference to ``baseline`` (mean ± standard error over seeds) with its verdict."""
    order = list(VARIANTS)
    summaries = {metric: summarise(records, metric, baseline, order)
                 for metric, _ in TABLE_METRICS}
    header = ['condition', 'variant', 'seeds']
    header += [f'{title} (mean ± std)' for _, title in TABLE_METRICS]
    header += [f'Δ {title} vs {baseline} (mean ± s.e.)' for _, title in TABLE_METRICS]
    header += ['verdict (box AP)']
    rows = []
    for cells in zip(*summaries.values()):
        first: CellSummary = cells[0]
        row = [first.condition, first.variant, ','.join(map(str, first.seeds))]
        row += [_pm(cell.mean, cell.std) for cell in cells]
        row += ['-' if cell.variant == baseline else _signed(cell.mean_diff, cell.std_error)
                for cell in cells]
        row.append(first.verdict)
        rows.append(row)
    return format_table(header, rows, markdown=markdown)


def verdict_lines(records: Sequence[Dict], baseline: str = BASELINE) -> List[str]:
    """One sentence per condition: which variants beat / lose to ``baseline`` on box AP."""
    lines = []
    summaries = summarise(records, 'bbox_mAP', baseline, list(VARIANTS))
    for condition in sorted({cell.condition for cell in summaries}):
        cells = [c for c in summaries if c.condition == condition and c.variant != baseline]
        groups = {}
        for cell in cells:
            groups.setdefault(cell.verdict, []).append(
                f'{cell.variant} ({_signed(cell.mean_diff, cell.std_error)})')
        parts = [f'{verdict}: {", ".join(names)}' for verdict, names in groups.items()]
        lines.append(f'- **{condition}** (box AP against {baseline}, paired over seeds): ' +
                     ('; '.join(parts) if parts else 'no variant recorded') + '.')
    return lines


def plot_study(records: Sequence[Dict], path: str, metric: str = 'bbox_mAP',
               baseline: str = BASELINE) -> str:
    """AP per variant, one panel per condition: each seed as a point, mean ± std as a bar
    (``baseline`` in its own colour)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    summaries = summarise(records, metric, baseline, list(VARIANTS))
    conditions = sorted({cell.condition for cell in summaries})
    fig, axes = plt.subplots(1, len(conditions), figsize=(5.5 * len(conditions), 4.2),
                             squeeze=False, sharey=True)
    for ax, condition in zip(axes[0], conditions):
        cells = [c for c in summaries if c.condition == condition]
        for x, cell in enumerate(cells):
            ax.scatter([x] * len(cell.values), cell.values, s=14, color='0.4', zorder=3)
            ax.errorbar([x + 0.15], [cell.mean], yerr=[0 if math.isnan(cell.std) else cell.std],
                        fmt='o', color='C0' if cell.variant == baseline else 'C1', capsize=4)
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels([c.variant for c in cells], rotation=35, ha='right', fontsize=8)
        ax.set_title(condition)
        ax.grid(axis='y', alpha=0.3)
    axes[0][0].set_ylabel(f'COCO {metric} (val)')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_study_report(records: Sequence[Dict], out_dir: str, command: str,
                       min_seeds: int = 3, baseline: str = BASELINE) -> Dict[str, str]:
    """Write ``results.md`` (table, verdicts, the command) and ``study.png`` under ``out_dir``,
    with paired differences taken against variant ``baseline``.

    Only variants with ``min_seeds`` seeds in every condition enter the table and the plot; the
    others are listed with the seeds they have so far.
    """
    records, incomplete = complete_records(records, min_seeds)
    if not records:
        raise ValueError(f'no variant has {min_seeds} seeds in every condition yet')
    in_table = sorted({r['variant'] for r in records})
    if baseline not in in_table:
        raise ValueError(f'baseline must be a variant in the table ({", ".join(in_table)}), '
                         f'got {baseline!r}')
    paths = dict(report=osp.join(out_dir, 'results.md'), plot=osp.join(out_dir, 'study.png'))
    plot_study(records, paths['plot'], baseline=baseline)
    iterations = sorted({r['iterations'] for r in records})
    machines = sorted({f"{r['device']}, {r['threads']} thread(s) per run, torch "
                       f"{r['versions']['torch']}" for r in records})
    detectors = ' / '.join(sorted({r['detector'] for r in records if 'detector' in r}))
    text = [f'# Study: does ASL help the glyph {detectors or "detector"}?', '',
            f'Regenerate: `{command}`', '',
            f'{len(records)} runs; {", ".join(map(str, iterations))} iterations each; '
            f'{"; ".join(machines)}.', '', study_table(records, baseline=baseline), '',
            *verdict_lines(records, baseline), '',
            f'![AP per variant]({osp.basename(paths["plot"])})', '']
    if incomplete:
        pending = '; '.join(f'{variant} (' + ', '.join(f'{c}: {n}' for c, n in counts.items())
                            + ')' for variant, counts in incomplete.items())
        text[-2:-2] = [f'Recorded, not yet in the table (fewer than {min_seeds} seeds in a '
                       f'condition; seeds per condition): {pending}.', '']
    with open(paths['report'], 'w') as f:
        f.write('\n'.join(text))
    return paths
