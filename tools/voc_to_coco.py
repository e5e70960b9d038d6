"""Convert a Pascal VOC-style folder to COCO json, one file per split, then pre-flight it.

    python tools/voc_to_coco.py VOC_ROOT [--out DIR] [--img-dir JPEGImages]
                                [--ann-dir Annotations]
                                [--splits trainval test] [--split-ratios trainval=0.8 test=0.2]
                                [--seed 0] [--classes RBC WBC Platelets]
                                [--skip-unknown-classes] [--skip-bad-files]
                                [--difficult {keep,ignore,drop}] [--no-preflight] [--workers N]

Writes ``<out>/<split>.json`` (default ``VOC_ROOT/annotations_coco/``) with ``file_name``s
relative to VOC_ROOT, so a config uses ``data_root='VOC_ROOT/'``, ``data_prefix=dict(img='')``,
``ann_file='annotations_coco/trainval.json'``. Coordinates, dropped and kept boxes and
``difficult``: see ``asl_det/intake/voc_conversion.py``. Other layouts: ``--ann-dir annots``
(or ``annotations``...) for another XML folder; ``--ann-dir . --img-dir .`` for a flat folder
where each image has its XML beside it. A read-only VOC_ROOT takes ``--out`` elsewhere.
"""
import argparse

from asl_det.intake.coco_output import run_conversion
from asl_det.intake.voc_conversion import DIFFICULT_MODES, convert_voc_to_coco
from asl_det.validation import check_distinct, int_argument


def parse_ratio(text):
    split, _, value = text.partition('=')
    try:
        return split, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected SPLIT=RATIO, e.g. trainval=0.8, got {text!r}')


def parse_args():
    parser = argparse.ArgumentParser(description='Convert Pascal VOC annotations to COCO json')
    parser.add_argument('voc_root', help='folder holding the XML and image folders')
    parser.add_argument('--out', '--out-dir', dest='out',
                        help='output folder (default: VOC_ROOT/annotations_coco)')
    parser.add_argument('--img-dir', default='JPEGImages',
                        help='image folder under VOC_ROOT (. for VOC_ROOT itself)')
    parser.add_argument('--ann-dir', default='Annotations',
                        help='XML folder under VOC_ROOT, e.g. annots (. for VOC_ROOT itself)')
    parser.add_argument('--splits', nargs='+', help='ImageSets/Main/<split>.txt files to '
                        'convert (default: all there)')
    parser.add_argument('--split-ratios', nargs='+', type=parse_ratio, metavar='SPLIT=RATIO',
                        help='random split of all XML files instead of the split files '
                        '(used anyway when there are none; default trainval=0.8 test=0.2)')
    parser.add_argument('--seed', type=int_argument(0), default=0,
                        help='seed of the random split (>= 0)')
    parser.add_argument('--classes', nargs='+', help='class names in category-id order '
                        '(default: all in the XML files, sorted)')
    parser.add_argument('--skip-unknown-classes', action='store_true',
                        help='list and skip objects of classes not in --classes')
    parser.add_argument('--skip-bad-files', action='store_true',
                        help='list and skip unparseable XML files and XML files without image')
    parser.add_argument('--difficult', choices=DIFFICULT_MODES, default='keep',
                        help='difficult objects: ordinary boxes marked "difficult": 1 (keep), '
                        'iscrowd=1 (ignore, as mmdet\'s converter) or left out (drop)')
    parser.add_argument('--no-preflight', action='store_true',
                        help='do not run the pre-flight check on the written files')
    parser.add_argument('--workers', type=int_argument(0), default=0,
                        help='pre-flight decoding processes (0: one per CPU)')
    args = parser.parse_args()
    try:
        check_distinct('the splits of --split-ratios', [s for s, _ in args.split_ratios or []])
        check_distinct('--splits', args.splits or [])
    except ValueError as error:
        parser.error(str(error))
    return args


def main():
    args = parse_args()
    run_conversion(lambda: convert_voc_to_coco(
        args.voc_root, args.out, args.img_dir, args.splits,
        dict(args.split_ratios) if args.split_ratios else None, args.seed, args.classes,
        args.skip_unknown_classes, args.skip_bad_files, args.difficult, args.ann_dir),
        root=args.voc_root, preflight=not args.no_preflight, workers=args.workers)


if __name__ == '__main__':
    main()
