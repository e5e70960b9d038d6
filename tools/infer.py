"""Detect objects in images with a trained checkpoint: mmdet's demo/image_demo.py for asl_det.

    python tools/infer.py INPUTS CONFIG --weights CKPT [--out-dir outputs] [--pred-score-thr 0.3]
                          [--device DEVICE] [--batch-size 1] [--no-save-vis] [--no-save-pred]
                          [--palette {coco,voc,citys,random,none}] [--trust-checkpoint]

INPUTS is an image, a folder (its image files) or a quoted glob (``'photos/**/*.jpg'``).
Writes what mmdet's ``DetInferencer`` writes: ``OUT_DIR/vis/<file name>`` (boxes, class names
and scores above ``--pred-score-thr``, drawn by mmdet's visualizer) and
``OUT_DIR/preds/<file stem>.json`` (every detection: ``labels``, ``scores``, ``bboxes`` xyxy in
original-image pixels). Scores are the ones ``tools/test.py`` evaluates: an ASL head scores with
its loss's ``score_activation``.

CKPT loads through asl_det's safe loader (weights only, plus the globals mmengine checkpoints
hold); a file needing more is refused before anything in it runs, and ``--trust-checkpoint``
unpickles a trusted file fully. Weights that do not fit CONFIG (another class count) are an
error. Files that cannot be decoded are named and skipped.

Exit status: 0 all images done; 3 done, but some files were skipped (listed); 2 a usage error
(found before any image is processed); 1 a refused checkpoint, no image that could be read, or
another failure.
"""
import argparse
import os.path as osp
import sys

import asl_det  # noqa: F401  (registers the loss and hooks)
from asl_det.checkpoint import NotACheckpointError, UntrustedCheckpointError
from asl_det.inference import (
    CheckedDetInferencer,
    InferenceSetupError,
    check_outputs_spare_inputs,
    check_pictures_writable,
    list_images,
    prepare_output_dir,
    run_on_files,
)
from asl_det.launch.runtime import UserInputError, load_user_config, user_error_line
from asl_det.validation import check_device, check_int, check_number

#: Exit status when every image that could be decoded was processed and some could not.
EXIT_SKIPPED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('inputs', metavar='INPUTS',
                        help='an image file, a folder of images or a quoted glob pattern')
    parser.add_argument('config', metavar='CONFIG', help='the config the checkpoint was trained '
                        'with (a file or mmdet::path; a work dir keeps a copy)')
    parser.add_argument('--weights', required=True, metavar='CKPT', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs', help='output folder (default: outputs)')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='draw detections with a score above this (default 0.3; the JSON '
                        'files keep every detection)')
    parser.add_argument('--device', default=None,
                        help='e.g. cpu or cuda:0 (default: cuda:0 when available, else cpu)')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--no-save-vis', action='store_true', help='do not write OUT_DIR/vis')
    parser.add_argument('--no-save-pred', action='store_true',
                        help='do not write OUT_DIR/preds')
    parser.add_argument('--palette', default='none',
                        choices=['coco', 'voc', 'citys', 'random', 'none'],
                        help='box colours (none: the config\'s or the checkpoint\'s)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the checkpoint fully, with torch.load(weights_only='
                        'False), which can run code the file names: only for files you trust')
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_number('--pred-score-thr', args.pred_score_thr, 0.0, 1.0)
        check_int('--batch-size', args.batch_size, 1)
        if args.device is not None:
            check_device('--device', args.device)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    parser = build_parser()  # for the errors found below, in the parser's format
    if not osp.isfile(args.weights) and '://' not in args.weights:
        parser.error(f'--weights: no such file {args.weights!r}')
    if not osp.isfile(args.config) and '::' not in args.config:
        parser.error(f'CONFIG: no such file {args.config!r}')
    try:  # a missing mmdet:: path or _base_, an error in the config's code
        cfg = load_user_config(args.config)
    except UserInputError as error:
        parser.error(f'CONFIG ({args.config}): {type(error.__cause__).__name__}: {error}')
    outputs = [kind for kind, skip in (('vis', args.no_save_vis), ('preds', args.no_save_pred))
               if not skip]
    try:
        paths = list_images(args.inputs, outputs=outputs)
        check_outputs_spare_inputs(paths, args.out_dir, outputs)
        if 'vis' in outputs:
            check_pictures_writable(paths)
        # safe loading (a refusal raises here) and the fit of the weights, before any image
        inferencer = CheckedDetInferencer(
            model=cfg, weights=args.weights, device=args.device,
            palette=args.palette, show_progress=False, trust=args.trust_checkpoint,
            config_name=f'CONFIG ({args.config})', weights_name=f'--weights ({args.weights})')
        if outputs:  # made once the model is ready: a refused model leaves no folder behind
            prepare_output_dir(args.out_dir)
    except InferenceSetupError as error:
        parser.error(str(error))
    except (UntrustedCheckpointError, NotACheckpointError) as error:
        print(user_error_line(error), file=sys.stderr)
        return 1

    print(f'{len(paths)} image(s) from {args.inputs}')
    summary = run_on_files(inferencer, paths, args.batch_size, out_dir=args.out_dir if outputs
                           else '', no_save_vis=args.no_save_vis, no_save_pred=args.no_save_pred,
                           pred_score_thr=args.pred_score_thr)
    written = [f'{args.out_dir}/{kind}' for kind in outputs]
    print(f'{len(summary.done)} image(s) done' + (f' -> {", ".join(written)}' if written else ''))
    if summary.skipped:
        print(f'{len(summary.skipped)} file(s) skipped:', file=sys.stderr)
        for path, reason in summary.skipped:
            print(f'  {path}: {reason}', file=sys.stderr)
        return EXIT_SKIPPED if summary.done else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
