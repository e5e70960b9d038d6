"""The study report's figures: one panel per annotation condition, saved as PNG.

Drawn on matplotlib's Agg canvas directly (no pyplot, no global backend switch) and written by
:func:`asl_det.benchmark.analysis.plots.save_figure`, so a report works headless and leaves an
interactive session's backend alone.
"""
from typing import List, Sequence, Tuple

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asl_det.benchmark.analysis.plots import save_figure


def condition_panels(conditions: Sequence[str], width: float = 5.5,
                     height: float = 4.2) -> Tuple[Figure, List[Axes]]:
    """A figure with one panel per condition in a row (``width`` x ``height`` inches each, a
    shared y axis), each titled with its condition; returns the figure and the panels."""
    fig = Figure(figsize=(width * len(conditions), height))
    axes = list(fig.subplots(1, len(conditions), squeeze=False, sharey=True)[0])
    for ax, condition in zip(axes, conditions):
        ax.set_title(condition)
    return fig, axes


def save_png(fig: Figure, path: str) -> str:
    """Lay ``fig`` out and write it to ``path`` (folders made as needed); returns ``path``."""
    FigureCanvasAgg(fig)  # the renderer tight_layout measures with
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
