"""Check a config's COCO-format data before training (what ``tools/train.py`` runs first).

    python tools/preflight.py CONFIG [--cfg-options k=v ...] [--skip-bad-images] [--workers N]
                              [--cache-dir DIR]

Decodes every image of the train/val/test data sets as the pipeline's ``LoadImageFromFile``
does and checks the annotations (``asl_det/intake/preflight.py``); prints one line per data set
and the problems; exits 1 naming the files when training would fail. Results are cached in
``~/.cache/asl_det/preflight`` (or ``$ASL_DET_CACHE``, or ``--cache-dir``): a repeat run hashes
the annotation files and stats the images.

Measured here (2 CPU cores shared with training runs, load ~6; ``workers=2``; the time of
``preflight_config`` alone, without the ~8 s of imports of the tool; cold = empty cache):
  BCCD trainval + test (364 JPEGs, 640 x 480, 23 KB each; 4,886 boxes): cold 0.77 s, cached
  0.003 to 0.008 s.
  Glyph benchmark (``tools/make_dataset.py --out /tmp/glyphs``: 2,000 + 500 PNGs of 128 x 128,
  ~11k boxes): cold 2.5 s, cached 0.02 s.
Per unit, serial: decoding 0.75 ms per BCCD JPEG and 0.5 ms per glyph PNG (CPU), annotation
checks 6.7 us per box, one stat 5 us per image, sha256 1 GB/s.
COCO train2017 (118k JPEGs, ~160 KB each, 860k boxes, a 450 MB json), extrapolated: cold, about
2 to 3 ms per image (larger files than BCCD's) = 4 to 6 CPU-minutes of decoding, about 30 s on
16 workers, plus reading 19 GB and ~20 s to load the json and check the boxes (one process);
cached, about 0.5 s to hash the json and 0.6 s to stat the images: 1 to 2 s at every start.
"""
import argparse
import sys

from asl_det.intake.preflight import PreflightError, preflight_config
from asl_det.launch.runtime import (
    KeyValueAction,
    load_user_config,
    report_user_errors,
    user_input,
)
from asl_det.validation import error_line, int_argument


def parse_args():
    parser = argparse.ArgumentParser(description='Check a config\'s data before training')
    parser.add_argument('config', help='config file path (or mmdet::path)')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction,
                        help='override settings of the config, key=value')
    parser.add_argument('--skip-bad-images', action='store_true',
                        help='report bad images and write filtered annotation files without '
                        'them (in the cache) instead of failing')
    parser.add_argument('--workers', type=int_argument(0), default=0,
                        help='decoding processes (0: one per CPU)')
    parser.add_argument('--cache-dir', help='cache folder (default: $ASL_DET_CACHE or '
                        '~/.cache/asl_det/preflight)')
    return parser.parse_args()


def main():
    report_user_errors()  # a missing config or data file: one line, not a traceback
    args = parse_args()
    cfg = load_user_config(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        with user_input(args.config):
            preflight_config(cfg, args.skip_bad_images, args.workers, args.cache_dir)
    except PreflightError as error:
        sys.exit(error_line(error))  # exit status 1: the data, not the command line


if __name__ == '__main__':
    main()
