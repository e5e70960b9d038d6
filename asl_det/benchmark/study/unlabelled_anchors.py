"""The study's view of where unlabelled objects sit: the predicted probabilities of the anchors
of the boxes dropped from the train labels, against true background anchors, per variant.

Read from the records' ``unlabelled_anchors`` (what
:class:`~asl_det.engine.hooks.unlabelled_anchor_probability_hook.UnlabelledAnchorProbabilityHook`
measured at each evaluation of a missing-annotation run).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

from .plotting import condition_panels, save_png

#: Columns of the table at the last evaluation: (series key, header).
COLUMNS = (('unlabelled_p25', 'unlabelled p25'), ('unlabelled_p50', 'unlabelled p50'),
           ('unlabelled_p75', 'unlabelled p75'), ('unlabelled_p90', 'unlabelled p90'),
           ('background_p99', 'background p99'),
           ('unlabelled_above_0.5', 'unlabelled > 0.5'),
           ('background_above_0.5', 'background > 0.5'),
           ('separating_threshold', 'separating threshold'))


def probed(records: Sequence[Dict]) -> Dict[Tuple[str, str], List[Dict]]:
    """{(condition, variant): [the records' ``unlabelled_anchors``]} for records that have it."""
    found: Dict[Tuple[str, str], List[Dict]] = {}
    for record in records:
        if record.get('unlabelled_anchors'):
            found.setdefault((record['condition'], record['variant']), []).append(
                record['unlabelled_anchors'])
    return found


def _mean(values: Sequence[Optional[float]]) -> float:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else math.nan


def last_evaluation_table(records: Sequence[Dict], order: Sequence[str]) -> Optional[str]:
    """Markdown table: per (condition, variant) the mean over seeds, at the last evaluation, of
    the unlabelled-object anchors' probability quantiles (of their own class), the background
    anchors' 99th percentile (max over classes), the shares above 0.5 and the threshold that
    best separates the two. None without probe records."""
    cells = probed(records)
    if not cells:
        return None
    rows = []
    for (condition, variant) in sorted(cells, key=lambda k: (k[0], list(order).index(k[1])
                                                             if k[1] in order else len(order))):
        runs = cells[(condition, variant)]
        values = [_mean([run['series'][key][-1] for run in runs if key in run['series']])
                  for key, _ in COLUMNS]
        rows.append([condition, variant, str(len(runs))] + [f'{v:.3f}' for v in values])
    header = ['condition', 'variant', 'seeds'] + [title for _, title in COLUMNS]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(row) + ' |' for row in rows])


def plot_unlabelled_anchors(records: Sequence[Dict], path: str,
                            order: Sequence[str]) -> Optional[str]:
    """Probability against training iteration, one panel per missing-annotation condition: per
    variant the seeds' mean median of the unlabelled-object anchors (solid, with the mean
    25-75% band) and the background anchors' 99th percentile (dashed). None without probes."""
    cells = probed(records)
    if not cells:
        return None
    conditions = sorted({condition for condition, _ in cells})
    variants = [v for v in order if any((c, v) in cells for c in conditions)]
    fig, axes = condition_panels(
        [f'{condition}: anchors of the dropped boxes vs background' for condition in conditions],
        width=6, height=4.4)
    for ax, condition in zip(axes, conditions):
        for colour, variant in enumerate(variants):
            runs = cells.get((condition, variant))
            if not runs:
                continue
            iters = runs[0]['iters']
            runs = [run for run in runs if run['iters'] == iters]

            def mean_series(key, runs=runs, iters=iters):
                return [_mean([run['series'][key][i] for run in runs]) for i in range(len(iters))]
            ax.plot(iters, mean_series('unlabelled_p50'), color=f'C{colour}',
                    label=f'{variant}: unlabelled median ({len(runs)} seeds)')
            ax.fill_between(iters, mean_series('unlabelled_p25'), mean_series('unlabelled_p75'),
                            color=f'C{colour}', alpha=0.15)
            ax.plot(iters, mean_series('background_p99'), color=f'C{colour}', linestyle='--',
                    label=f'{variant}: background 99th pct')
        ax.set_xlabel('training iteration')
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel('predicted probability (sigmoid)')
    return save_png(fig, path)
