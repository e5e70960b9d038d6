"""Using a trained detector: ``tools/infer.py``'s pieces and the side-by-side picture's data.

- :mod:`.inputs`: INPUTS (image, folder or glob) and a writable output folder, checked first;
- :mod:`.weights_fit`: weights that do not fit the config are an error, not a warning;
- :mod:`.image_files`: a ``DetInferencer`` over many files, bad files skipped, one progress line;
- :mod:`.labelled_images`: a COCO json's images and boxes in a detector's class order;
- :mod:`.score_threshold`: a detector's best-F1 score threshold, from COCO's matching;
- :mod:`.trained_runs`: the config and checkpoint of a ``tools/train.py`` work dir.

Not imported by ``import asl_det``; the tools import it. The safe-loading inference API itself
is :mod:`asl_det.apis`.
"""
from .image_files import InferenceSummary, run_on_files
from .inputs import (
    InferenceSetupError,
    check_outputs_spare_inputs,
    check_pictures_writable,
    list_images,
    prepare_output_dir,
)
from .labelled_images import Detections, LabelledImages
from .score_threshold import ScoreThreshold, best_f1_threshold
from .trained_runs import TrainedRun, find_trained_run
from .weights_fit import CheckedDetInferencer, check_weights_fit

__all__ = ['CheckedDetInferencer', 'Detections', 'InferenceSetupError', 'InferenceSummary',
           'LabelledImages', 'ScoreThreshold', 'TrainedRun', 'best_f1_threshold',
           'check_outputs_spare_inputs', 'check_pictures_writable', 'check_weights_fit',
           'find_trained_run', 'list_images', 'prepare_output_dir', 'run_on_files']
