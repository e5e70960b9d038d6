"""Convert YOLO txt labels (Ultralytics' layout) to COCO json, one file per split, then
pre-flight it.

    python tools/yolo_to_coco.py DATA_YAML [--splits train val test] [--root DIR]
    python tools/yolo_to_coco.py --images DIR [--labels DIR] [--split NAME] [--root DIR]
        common: [--out DIR] [--classes WBC RBC Platelets] [--skip-unknown-classes]
                [--skip-bad-files] [--no-preflight] [--workers N]

Writes ``<out>/<split>.json`` (default ``ROOT/annotations_coco/``; ROOT: the yaml's ``path``, or
the yaml's folder, or the folder holding ``--images`` and ``--labels``) with ``file_name``s
relative to ROOT, so a config uses ``data_root='ROOT/'``, ``data_prefix=dict(img='')``,
``ann_file='annotations_coco/train.json'``. Label files, class names, boxes and what is an error:
see ``asl_det/intake/yolo_conversion.py``. A read-only data set takes ``--out`` elsewhere (and
absolute ``ann_file``s in the config).
"""
import argparse
from functools import partial

from asl_det.intake.coco_output import run_conversion
from asl_det.intake.yolo_conversion import YAML_SPLITS, convert_yolo_folder, convert_yolo_to_coco
from asl_det.validation import check_distinct, int_argument


def parse_args():
    parser = argparse.ArgumentParser(description='Convert YOLO txt labels to COCO json')
    parser.add_argument('data_yaml', nargs='?', help='Ultralytics data.yaml (or give --images)')
    parser.add_argument('--images', help='one image folder to convert (instead of a data.yaml)')
    parser.add_argument('--labels', help='its label folder (default: Ultralytics\' rule, '
                        '.../images/x -> .../labels/x)')
    parser.add_argument('--split', help='json name for --images (default: the folder\'s name, '
                        'train if it is "images")')
    parser.add_argument('--splits', nargs='+', choices=YAML_SPLITS,
                        help='data.yaml splits to convert (default: all it names)')
    parser.add_argument('--root', help='folder the file_names are relative to (default: the '
                        'yaml\'s path, or its folder; with --images: the folder holding '
                        'images and labels)')
    parser.add_argument('--out', '--out-dir', dest='out',
                        help='output folder (default: ROOT/annotations_coco)')
    parser.add_argument('--classes', nargs='+', help='class names in class-id order (default: '
                        'the yaml\'s names, else classes.txt beside the labels)')
    parser.add_argument('--skip-unknown-classes', action='store_true',
                        help='list and skip label lines whose class id has no name')
    parser.add_argument('--skip-bad-files', action='store_true',
                        help='list and leave out images with unreadable or malformed label '
                        'files, unreadable images and label files without an image')
    parser.add_argument('--no-preflight', action='store_true',
                        help='do not run the pre-flight check on the written files')
    parser.add_argument('--workers', type=int_argument(0), default=0,
                        help='pre-flight decoding processes (0: one per CPU)')
    args = parser.parse_args()
    if (args.data_yaml is None) == (args.images is None):
        parser.error('give a data.yaml or --images DIR (not both)')
    if args.images is None and (args.labels or args.split):
        parser.error('--labels and --split go with --images')
    if args.images is not None and args.splits:
        parser.error('--splits goes with a data.yaml')
    try:
        check_distinct('--splits', args.splits or [])
    except ValueError as error:
        parser.error(str(error))
    return args


def main():
    args = parse_args()
    if args.data_yaml is not None:
        convert = partial(convert_yolo_to_coco, args.data_yaml, args.out, args.splits,
                          args.classes, args.root, args.skip_unknown_classes, args.skip_bad_files)
    else:
        convert = partial(convert_yolo_folder, args.images, args.labels, args.split, args.out,
                          args.classes, args.root, args.skip_unknown_classes, args.skip_bad_files)
    run_conversion(convert, preflight=not args.no_preflight, workers=args.workers)


if __name__ == '__main__':
    main()
