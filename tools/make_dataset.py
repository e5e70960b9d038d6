"""Write (or reuse) the built-in glyph detection benchmark, optionally with missing train labels.

    python tools/make_dataset.py --out data/glyphs --num-train 2000 --num-val 500
    python tools/make_dataset.py --out data/glyphs --missing-labels 0.3   # reuses the images

``--missing-labels F`` also writes ``annotations/instances_train_missingNN.json`` (NN = 100 F)
beside the clean train file: a share F of the boxes removed at random within each image, the
images shared; val keeps every label.
"""
import argparse
import json
import time

from asl_det.benchmark.glyphs import generate_glyph_detection
from asl_det.benchmark.study.missing_annotations import write_missing_annotation_split
from asl_det.validation import check_number, int_argument


def missing_fraction(text: str) -> float:
    """``--missing-labels`` value: a float in [0, 1), checked before any image is drawn."""
    try:
        return check_number('--missing-labels', float(text), 0.0, 1.0, high_open=True)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--num-train', type=int_argument(1), default=2000, help='train images')
    parser.add_argument('--num-val', type=int_argument(1), default=500, help='val images')
    parser.add_argument('--img-size', type=int_argument(1), default=128, help='image side (px)')
    parser.add_argument('--min-objects', type=int_argument(0), default=1,
                        help='fewest glyphs per image')
    parser.add_argument('--max-objects', type=int_argument(0), default=8,
                        help='most glyphs per image')
    parser.add_argument('--min-size', type=int_argument(1), default=16,
                        help='smallest glyph box side (px)')
    parser.add_argument('--max-size', type=int_argument(1), default=56,
                        help='largest glyph box side (px)')
    parser.add_argument('--missing-labels', type=missing_fraction, metavar='FRACTION',
                        help='also write a train split without this share of the boxes, '
                             'in [0, 1)')
    parser.add_argument('--seed', type=int_argument(0), default=0,
                        help='random seed (images and the dropped boxes)')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if cached; replaces files of the layout that no '
                        'manifest of this generator vouches for')
    parser.add_argument('--workers', type=int_argument(1, 64), default=2,
                        help='processes drawing images')
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:  # the ranges between options (min <= max ...) and a folder holding others' files
        result = generate_glyph_detection(
            args.out, num_train=args.num_train, num_val=args.num_val, img_size=args.img_size,
            min_objects=args.min_objects, max_objects=args.max_objects, min_size=args.min_size,
            max_size=args.max_size, seed=args.seed, force=args.force, num_workers=args.workers)
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    action = 'reused' if result['reused'] else 'generated'
    print(f'{action} {result["root"]} in {time.perf_counter() - start:.1f} s')
    print(json.dumps(result['manifest']['splits'], indent=2))
    if args.missing_labels is not None:
        split = write_missing_annotation_split(result['train_ann'], args.missing_labels,
                                               seed=args.seed)
        total = split['annotations'] + split['dropped_annotations']
        print(f'missing-label train split: {split["ann_file"]}')
        print(f'dropped {split["dropped_annotations"]} of {total} boxes: realised fraction '
              f'{split["dropped_fraction"]:.4f} (asked {split["fraction"]})')


if __name__ == '__main__':
    main()
