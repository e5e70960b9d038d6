"""Which of MMDetection's own detector families train with ASL: a table over mmdet's configs.

    python tools/asl_coverage.py [--out configs/README.md] [--families NAME ...]
                                 [--configs CONFIG ...] [--image-size 64] [--max-queries 30]

Walks ``mmdet/.mim/configs`` (a minute or two), picks one config per single-stage or DETR-family
detector family with a sigmoid ``loss_cls``, swaps ASL in as ``tools/train.py --asl`` does, and
runs one training and one inference step of each on CPU (``asl_det.config.coverage``).
``--configs`` checks the given configs instead of walking. ``--out`` writes the markdown page.
"""
import argparse
import os.path as osp
import shlex
import sys
import warnings

import asl_det  # noqa: F401  (registers AsymmetricLoss)
from asl_det.config import coverage
from asl_det.config.model_trial import resolve_config_path
from asl_det.validation import int_argument


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', help='write the markdown page here (e.g. configs/README.md)')
    parser.add_argument('--families', nargs='+', metavar='NAME',
                        help='only families whose name contains one of these (case-insensitive)')
    parser.add_argument('--configs', nargs='+', metavar='CONFIG',
                        help='check these configs (paths, or relative to mmdet/.mim/configs)')
    parser.add_argument('--image-size', type=int_argument(32), default=64,
                        help='synthetic image side (px, >= 32: the FPN strides)')
    parser.add_argument('--max-queries', type=int_argument(1), default=30,
                        help='cap on DETR queries')
    args = parser.parse_args()
    if args.out is not None and not osp.isdir(osp.dirname(osp.abspath(args.out))):
        parser.error(f'--out: the folder of {args.out!r} does not exist')
    missing = [c for c in args.configs or [] if not osp.isfile(resolve_config_path(c))]
    if missing:
        parser.error(f'--configs: no such config {missing[0]!r}')
    return args


def main():
    args = parse_args()
    from mmdet.utils import register_all_modules
    register_all_modules()
    warnings.filterwarnings('ignore')  # build-time warnings of 40 models; the table says it

    def progress(row):
        print(f'{row.result:8s} {row.family}: {row.detail[:120]}', flush=True)

    if args.configs:
        families, unloadable = [], []
        rows = []
        for config in args.configs:
            rows.append(coverage.check_config(config, args.image_size, args.max_queries))
            progress(rows[-1])
    else:
        families, unloadable = coverage.find_families()
        chosen = [f for f in families if f.sigmoid and (
            not args.families or any(n.lower() in f.name.lower() for n in args.families))]
        rows = coverage.check_families(chosen, args.image_size, args.max_queries, progress)
    print()
    print(coverage.count_line(rows))
    if args.out:
        command = 'python tools/asl_coverage.py ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
        with open(args.out, 'w') as f:
            f.write(coverage.coverage_markdown(rows, families, unloadable, command.strip(),
                                               args.image_size))
        print(f'wrote {args.out}')
    else:
        print(coverage.coverage_table(rows))


if __name__ == '__main__':
    main()
