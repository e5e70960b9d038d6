"""Run a ``DetInferencer`` over many image files: bad files are named and skipped, and a single
progress line (done / total, images per second, elapsed, ETA) replaces a line per image.

Each file is first decoded as the inferencer's test pipeline loads it
(:func:`asl_det.intake.image_decoding.decode_image`: unreadable, undecodable or truncated files
fail); the good ones go to the inferencer in batches, with its own options (output folder,
score threshold, ...), so what it writes is what ``DetInferencer`` writes.
"""
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

from mmcv.transforms import LoadImageFromFile
from mmengine.utils import ProgressBar

from asl_det.intake.image_decoding import decode_image
from asl_det.validation import check_int


@dataclass
class InferenceSummary:
    """What :func:`run_on_files` did.

    ``done``: paths predicted, in order; ``skipped``: (path, reason) of the files left out;
    ``predictions``: path -> ``DetInferencer``'s prediction dict (``labels``, ``scores``,
    ``bboxes`` as lists; boxes xyxy in original-image pixels), when asked to keep them.
    """
    done: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    predictions: Dict[str, dict] = field(default_factory=dict)


def pipeline_decoding(inferencer) -> Tuple[str, str]:
    """(imdecode_backend, color_type) with which the inferencer's test pipeline loads images:
    read from its built loader (mmdet's ``InferencerLoader`` wraps the config's
    ``LoadImageFromFile``, and the inferencer renames that transform in its config)."""
    for transform in inferencer.pipeline.transforms:
        loader = getattr(transform, 'from_file', transform)
        if isinstance(loader, LoadImageFromFile):
            return loader.imdecode_backend, loader.color_type
    raise ValueError('the inferencer\'s test pipeline loads no image (no LoadImageFromFile)')


def run_on_files(inferencer, paths: Sequence[str], batch_size: int = 1,
                 keep_predictions: bool = False, progress: Optional[TextIO] = None,
                 **call_kwargs) -> InferenceSummary:
    """Predict every decodable file of ``paths`` with ``inferencer(files, **call_kwargs)``.

    Args:
        inferencer: a ``DetInferencer`` (built with ``show_progress=False``: this function
            shows the progress).
        paths: image files.
        batch_size: images per forward pass.
        keep_predictions: keep every prediction in the summary (memory grows with the files).
        progress: where the progress line goes (default ``sys.stdout``).
        **call_kwargs: the inferencer's call options (``out_dir``, ``no_save_vis``,
            ``no_save_pred``, ``pred_score_thr``, ...).
    """
    check_int('batch_size', batch_size, 1)
    progress = progress or sys.stdout
    backend, color_type = pipeline_decoding(inferencer)
    summary = InferenceSummary()
    bar = ProgressBar(len(paths), file=progress)
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        good = []
        for path in chunk:
            problem = decode_image(path, backend, color_type)[2]
            if problem is None:
                good.append(path)
            else:
                summary.skipped.append((path, problem))  # listed by the caller, after the bar
        if good:
            results = inferencer(list(good), batch_size=len(good), **call_kwargs)
            summary.done += good
            if keep_predictions:
                summary.predictions.update(zip(good, results['predictions']))
        bar.update(len(chunk))
    progress.write('\n')
    progress.flush()
    return summary
