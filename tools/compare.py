"""Compare training runs: final COCO box AP, per-class AP, training time, ASL probabilities.

    python tools/compare.py WORK_DIR [WORK_DIR ...] [--names A B ...] [--markdown]
                            [--out report.md] [--out-plot map.png] [--prob-plot probs.png]
                            [--side-by-side OUT_DIR [--gt-ann FULL_JSON [--img-dir DIR]
                             [--train-ann TRAIN_JSON]] [--val-ann JSON --val-img-dir DIR]
                             [--num-images 12] [--rows-per-page 4] [--select {disagree,sample}]
                             [--seed 0] [--score-thr T] [--panel-width W] [--batch-size N]
                             [--device D] [--trust-checkpoint]]

The first work dir is the baseline the differences are taken to.

``--side-by-side OUT_DIR`` also draws the same images with each run's final checkpoint, one row
per image (ground truth, then each run), each run at its own best-F1 score threshold on the
validation set (printed; docs/inference.md says why): ``OUT_DIR/page_001.png``, ... and
``OUT_DIR/index.md``. Default images: the first run's validation set. For a study's
missing-label condition, ``--gt-ann`` (the full train labels) with ``--train-ann`` (the labels
the runs trained with) draws train images that lost boxes, the dropped boxes dashed.
"""
import argparse
import dataclasses
import os.path as osp
import sys

from asl_det.benchmark.analysis import (
    comparison_report,
    load_run,
    plot_map_curves,
    plot_probabilities,
    run_names,
)
from asl_det.validation import check_device, check_png_output, usage_error
from asl_det.visualization.side_by_side import SideBySideSettings

#: The side-by-side settings' defaults (the options default to None: given or not is known).
PICTURE_DEFAULTS = {field.name: field.default for field in dataclasses.fields(SideBySideSettings)}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', help='work dirs of tools/train.py runs')
    parser.add_argument('--names', nargs='+', help='run names (default: work dir basenames)')
    parser.add_argument('--markdown', action='store_true', help='markdown tables')
    parser.add_argument('--out', help='also write the report to this file')
    parser.add_argument('--out-plot', help='PNG of validation mAP over iterations')
    parser.add_argument('--prob-plot', help='PNG of the probability statistics over iterations')
    parser.add_argument('--window', type=int, default=10,
                        help='probabilities: mean over this many last logged values')
    add_side_by_side_arguments(parser)
    args = parser.parse_args()
    if args.names is not None and len(args.names) != len(args.work_dirs):
        parser.error(f'--names needs one name per work dir ({len(args.work_dirs)}), '
                     f'got {len(args.names)}')
    if args.window < 1:
        parser.error(f'--window must be >= 1, got {args.window}')
    check_side_by_side_arguments(parser, args)
    return args


def check_files(args) -> None:
    """The work dirs and the output files' folders, before any run is read (exit 2)."""
    try:
        args.names = run_names(args.work_dirs, args.names)
        for option in ('out_plot', 'prob_plot'):
            if getattr(args, option) is not None:
                check_png_output(f'--{option.replace("_", "-")}', getattr(args, option))
        if args.out is not None and not osp.isdir(osp.dirname(osp.abspath(args.out))):
            raise ValueError(f'--out: the folder of {args.out!r} does not exist')
    except ValueError as error:
        sys.exit(usage_error(error))


def add_side_by_side_arguments(parser) -> None:
    group = parser.add_argument_group(
        'side by side', 'draw the same images with each run\'s final checkpoint')
    group.add_argument('--side-by-side', metavar='OUT_DIR',
                       help='write page_NNN.png and index.md here')
    group.add_argument('--gt-ann', metavar='JSON', help='draw the images of this COCO json '
                       'with its labels (default: the first run\'s validation set)')
    group.add_argument('--img-dir', help='folder of --gt-ann\'s images (default: the first '
                       'run\'s train image folder)')
    group.add_argument('--train-ann', metavar='JSON', help='the labels the runs trained with, a '
                       'missing-label split of --gt-ann: its dropped boxes are drawn dashed, and '
                       'only images that lost boxes are shown')
    group.add_argument('--val-ann', metavar='JSON', help='labelled images for the thresholds '
                       '(default: the first run\'s validation set); needs --val-img-dir')
    group.add_argument('--val-img-dir', help='folder of --val-ann\'s images')
    group.add_argument('--num-images', type=int, help='images to draw (default '
                       f'{PICTURE_DEFAULTS["num_images"]})')
    group.add_argument('--rows-per-page', type=int, help='images per PNG page (default '
                       f'{PICTURE_DEFAULTS["rows_per_page"]})')
    group.add_argument('--select', choices=['disagree', 'sample'],
                       help='which images: where the runs disagree most or a fixed random sample '
                       f'(default {PICTURE_DEFAULTS["select"]})')
    group.add_argument('--seed', type=int, help='the sample\'s seed (--select sample; default '
                       f'{PICTURE_DEFAULTS["seed"]})')
    group.add_argument('--panel-width', type=int, help='draw every image this many pixels wide '
                       '(default: its own width, at least 320)')
    group.add_argument('--score-thr', type=float, help='one fixed score threshold for every run '
                       'instead of each run\'s best F1 (an unfair comparison across losses)')
    group.add_argument('--batch-size', type=int, help='images per forward pass (default '
                       f'{PICTURE_DEFAULTS["batch_size"]})')
    group.add_argument('--device', help='e.g. cpu or cuda:0 (default: cuda:0 when available)')
    group.add_argument('--trust-checkpoint', action='store_true', default=None,
                       help='unpickle the checkpoints fully (torch.load(weights_only=False)): '
                       'only for files you trust')


def check_side_by_side_arguments(parser, args) -> None:
    options = ('gt_ann', 'img_dir', 'train_ann', 'val_ann', 'val_img_dir', 'num_images',
               'rows_per_page', 'select', 'seed', 'score_thr', 'panel_width', 'batch_size',
               'device', 'trust_checkpoint')
    if args.side_by_side is None:
        given = [f'--{name.replace("_", "-")}' for name in options
                 if getattr(args, name) is not None]
        if given:
            parser.error(f'{", ".join(given)} only apply with --side-by-side OUT_DIR')
        return
    if len(args.work_dirs) < 2:
        parser.error(f'--side-by-side needs two or more work dirs, got {len(args.work_dirs)}')
    if args.train_ann and not args.gt_ann:
        parser.error('--train-ann needs --gt-ann, the full labels it was drawn from')
    if args.img_dir and not args.gt_ann:
        parser.error('--img-dir needs --gt-ann')
    if bool(args.val_ann) != bool(args.val_img_dir):
        parser.error('--val-ann and --val-img-dir go together')
    for option, low in (('num_images', 1), ('rows_per_page', 1), ('seed', 0),
                        ('batch_size', 1), ('panel_width', 16)):
        if getattr(args, option) is not None and getattr(args, option) < low:
            parser.error(f'--{option.replace("_", "-")} must be >= {low}, got '
                         f'{getattr(args, option)}')
    if args.score_thr is not None and not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    if args.device is not None:
        try:
            check_device('--device', args.device)
        except ValueError as error:
            parser.error(str(error))


def trained_runs(args):
    """Each work dir's config and final checkpoint for ``--side-by-side``, found before any
    report is written (:func:`~asl_det.inference.find_trained_run`)."""
    from asl_det.inference import InferenceSetupError, find_trained_run
    try:
        return [find_trained_run(work_dir, name)
                for work_dir, name in zip(args.work_dirs, args.names)]
    except InferenceSetupError as error:
        sys.exit(usage_error(error))


def side_by_side(args, runs) -> None:
    """Draw the runs side by side (``--side-by-side``); user errors exit with status 2."""
    from asl_det.checkpoint import NotACheckpointError, UntrustedCheckpointError
    from asl_det.inference import InferenceSetupError
    from asl_det.launch.runtime import user_error_line
    from asl_det.visualization import ImageSet, config_image_set, draw_side_by_side
    try:
        drawn = None
        if args.gt_ann:
            img_dir = args.img_dir or config_image_set(runs[0].config, 'train').img_dir
            drawn = ImageSet(args.gt_ann, img_dir)
        val = ImageSet(args.val_ann, args.val_img_dir) if args.val_ann else None
        given = dict(num_images=args.num_images, rows_per_page=args.rows_per_page,
                     select=args.select, seed=args.seed, score_thr=args.score_thr,
                     panel_width=args.panel_width, batch_size=args.batch_size,
                     device=args.device, trust=args.trust_checkpoint)
        settings = SideBySideSettings(out_dir=args.side_by_side, **{
            name: value for name, value in given.items() if value is not None})
        draw_side_by_side(runs, settings, val=val, drawn=drawn, train_ann=args.train_ann)
    except InferenceSetupError as error:
        sys.exit(usage_error(error))
    except (UntrustedCheckpointError, NotACheckpointError) as error:
        print(user_error_line(error), file=sys.stderr)
        sys.exit(1)


def main():
    args = parse_args()
    check_files(args)
    trained = trained_runs(args) if args.side_by_side else None
    runs = [load_run(d, name, window=args.window) for d, name in zip(args.work_dirs, args.names)]
    report = comparison_report(runs, markdown=args.markdown)
    print(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)
    if args.out_plot:
        print(f'mAP curves: {plot_map_curves(runs, args.out_plot)}')
    if args.prob_plot:
        print(f'probabilities: {plot_probabilities(runs, args.prob_plot)}')
    if args.side_by_side:
        side_by_side(args, trained)


if __name__ == '__main__':
    main()
