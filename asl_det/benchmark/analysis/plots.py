"""PNG figures of runs: validation mAP over iterations, and the probability statistics over
iterations (mean p on positives and negatives, the gap and gamma_neg: the paper's figure).

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch),
so they work headless and leave an interactive session's backend alone.
"""
import os
import os.path as osp
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .work_dirs import Run, check_runs, find_metric


def _check_path(path: str) -> None:
    if not str(path).lower().endswith('.png'):
        raise ValueError(f'path must end with .png, got {path!r}')


def save_figure(fig: Figure, path: str, dpi: int = 100) -> str:
    """Write ``fig`` to ``path`` on the Agg canvas (folders made as needed); returns ``path``."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi)
    return str(path)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha='center', va='center', transform=ax.transAxes, color='gray')


def plot_map_curves(runs: Sequence[Run], path: str,
                    metrics: Sequence[str] = ('bbox_mAP', 'bbox_mAP_50')) -> str:
    """Write :func:`map_curves_figure` to the PNG ``path``; returns ``path``."""
    _check_path(path)
    return save_figure(map_curves_figure(runs, metrics), path)


def map_curves_figure(runs: Sequence[Run],
                      metrics: Sequence[str] = ('bbox_mAP', 'bbox_mAP_50')) -> Figure:
    """Validation ``metrics`` (one panel each) over training iterations, one line per run
    (x: ``Run.val[i]['iter']``). Runs without validation results are left out; a panel without
    any says so. COCO's -1 (no ground truth in that range) is not drawn."""
    check_runs(runs)
    fig = Figure(figsize=(5.5 * len(metrics), 4), layout='constrained')
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        drawn = False
        for run in runs:
            points = [(entry['iter'], find_metric(entry, metric)) for entry in run.val]
            points = [(x, y) for x, y in points if y is not None and y >= 0]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker='o', label=run.name)
                drawn = True
        ax.set_xlabel('iteration')
        ax.set_ylabel(metric)
        ax.set_title(f'validation {metric}')
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend()
        else:
            _no_data(ax, 'no validation results')
    return fig


def plot_probabilities(runs: Sequence[Run], path: str) -> str:
    """Write :func:`probabilities_figure` to the PNG ``path``; returns ``path``."""
    _check_path(path)
    return save_figure(probabilities_figure(runs), path)


def probabilities_figure(runs: Sequence[Run]) -> Figure:
    """Training-time probability statistics over iterations, one colour per run.

    Panels: mean probability on positives (solid) and on negatives (dashed); the gap
    mean(1-p | neg) - mean(p | pos); gamma_neg (constant for plain ASL, moving with adaptive
    asymmetry). Logged by ``ProbabilityStatisticsHook``; panels with no data say so.
    """
    check_runs(runs)
    fig = Figure(figsize=(6, 9), layout='constrained')
    ax_prob, ax_gap, ax_gamma = fig.subplots(3, 1, sharex=True)
    drawn = {ax_prob: False, ax_gap: False, ax_gamma: False}
    colors = [f'C{i % 10}' for i in range(len(runs))]
    panels = ((ax_prob, 'asl_pos_prob', '-', 'positives'),
              (ax_prob, 'asl_neg_prob', '--', 'negatives'),
              (ax_gap, 'asl_prob_gap', '-', None),
              (ax_gamma, 'asl_gamma_neg', '-', None))
    for run, color in zip(runs, colors):
        for ax, key, style, what in panels:
            points = [(line['iter'], line[key]) for line in run.train
                      if isinstance(line.get(key), (int, float))]
            if points:
                xs, ys = zip(*points)
                label = f'{run.name} ({what})' if what else run.name
                ax.plot(xs, ys, style, color=color, label=label)
                drawn[ax] = True
    ax_prob.set_ylabel('mean probability')
    ax_prob.set_title('mean p on positives (solid) and negatives (dashed)')
    ax_gap.set_ylabel('gap')
    ax_gap.set_title('probability gap: mean(1-p | neg) - mean(p | pos)')
    ax_gamma.set_ylabel('gamma_neg')
    ax_gamma.set_title('gamma_neg')
    ax_gamma.set_xlabel('iteration')
    for ax, has_data in drawn.items():
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis='y', useOffset=False)
        if has_data:
            ax.legend(fontsize='small')
        else:
            _no_data(ax, 'not logged (ProbabilityStatisticsHook; gamma_neg: ASL only)')
    return fig
