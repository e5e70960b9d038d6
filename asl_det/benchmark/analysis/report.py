"""Text tables comparing runs: final COCO box AP, per-class AP, training time and probabilities.

Every table prints as aligned plain text or, with ``markdown=True``, as a GitHub markdown table.
Differences are to the first run (the baseline).
"""
import math
from typing import List, Optional, Sequence

from asl_det.benchmark.analysis.tables import format_table

from .work_dirs import Run, check_runs

#: (column, COCO metric name) of the box AP table.
AP_COLUMNS = (('AP', 'bbox_mAP'), ('AP50', 'bbox_mAP_50'), ('AP75', 'bbox_mAP_75'),
              ('APs', 'bbox_mAP_s'), ('APm', 'bbox_mAP_m'), ('APl', 'bbox_mAP_l'))
MISSING = '-'


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _ap(value) -> str:
    """COCO AP as text: 3 decimals; -1 (no ground truth in that range) -> 'n/a'."""
    if value is None:
        return MISSING
    if not _is_number(value) or value < 0:
        return 'n/a'
    return f'{value:.3f}'


def _with_diff(value, baseline, baseline_row: bool) -> str:
    """``'0.412 (+0.013)'``: value and its difference to the baseline (when both exist)."""
    text = _ap(value)
    if baseline_row or not (_is_number(value) and _is_number(baseline)):
        return text
    if value < 0 or baseline < 0:
        return text
    return f'{text} ({value - baseline:+.3f})'


def _float(value: Optional[float], digits: int = 3) -> str:
    return f'{value:.{digits}f}' if _is_number(value) else MISSING


def format_duration(seconds: Optional[float]) -> str:
    """``'1h 02m 03s'`` / ``'2m 03s'`` / ``'12.3s'``; ``'-'`` for None."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f'{seconds:.1f}s'
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}h {minutes:02d}m {secs:02d}s' if hours else f'{minutes}m {secs:02d}s'


def metrics_table(runs: Sequence[Run], markdown: bool = True) -> str:
    """Final COCO box AP, AP50, AP75, APs, APm, APl of each run, with the difference to the
    first run in parentheses. Runs that were never evaluated show '-'."""
    check_runs(runs)
    baseline = runs[0]
    rows = []
    for i, run in enumerate(runs):
        rows.append([run.name] + [_with_diff(run.metric(metric), baseline.metric(metric), i == 0)
                                  for _, metric in AP_COLUMNS])
    text = format_table(['run'] + [column for column, _ in AP_COLUMNS], rows, markdown)
    missing = [run.name for run in runs if not run.final_metrics]
    if missing:
        text += '\n\n' + f'No validation results in: {", ".join(missing)}.'
    return text


def per_class_table(runs: Sequence[Run], markdown: bool = True) -> str:
    """Per-class AP of the last evaluation of each run, differences to the first run that has
    per-class numbers.

    Runs without per-class numbers (not evaluated with ``val_evaluator.classwise=True``) get
    no column and are named in a note; if no run has them the note is all there is.
    """
    check_runs(runs)
    with_classes = [run for run in runs if run.per_class_ap]
    without = [run.name for run in runs if not run.per_class_ap]
    note = (f'No per-class AP in: {", ".join(without)} (evaluate with '
            'val_evaluator.classwise=True).') if without else ''
    if not with_classes:
        return note
    baseline = with_classes[0]
    classes: List[str] = []
    for run in with_classes:
        classes += [name for name in run.per_class_ap if name not in classes]
    rows = []
    for name in classes:
        rows.append([name] + [
            _with_diff(run.per_class_ap.get(name), baseline.per_class_ap.get(name),
                       run is baseline) for run in with_classes])
    text = format_table(['class'] + [run.name for run in with_classes], rows, markdown)
    return text + ('\n\n' + note if note else '')


def training_table(runs: Sequence[Run], markdown: bool = True) -> str:
    """Iterations, training time and the last-window mean probability statistics of each run:
    mean p on positives / negatives, the gap mean(1-p | neg) - mean(p | pos) and gamma_neg."""
    check_runs(runs)
    rows = []
    for run in runs:
        probs = run.probabilities
        rows.append([run.name, str(run.last_iter) if run.last_iter is not None else MISSING,
                     format_duration(run.train_time_s),
                     _float(probs.get('asl_pos_prob'), 4), _float(probs.get('asl_neg_prob'), 4),
                     _float(probs.get('asl_prob_gap'), 4), _float(probs.get('asl_gamma_neg'))])
    header = ['run', 'iters', 'train time', 'p(pos)', 'p(neg)', 'gap', 'gamma_neg']
    return format_table(header, rows, markdown)


def comparison_report(runs: Sequence[Run], markdown: bool = True) -> str:
    """The three tables under headings: box AP, per-class AP, training."""
    check_runs(runs)
    baseline = runs[0].name
    sections = [
        (f'Final COCO box AP (difference to {baseline})', metrics_table(runs, markdown)),
        (f'Per-class AP (difference to {baseline})', per_class_table(runs, markdown)),
        ('Training (probabilities: mean of the last logged values)',
         training_table(runs, markdown)),
    ]
    parts = []
    for title, body in sections:
        heading = f'## {title}\n' if markdown else f'{title}\n{"=" * len(title)}'
        parts.append(f'{heading}\n{body}')
    return '\n\n'.join(parts) + '\n'
