"""Compare training runs: final COCO box AP, per-class AP, training time, ASL probabilities.

    python tools/compare.py WORK_DIR [WORK_DIR ...] [--names A B ...] [--markdown]
                            [--out report.md] [--out-plot map.png] [--prob-plot probs.png]

The first work dir is the baseline the differences are taken to.
"""
import argparse

from asl_det.benchmark.analysis import (
    comparison_report,
    load_run,
    plot_map_curves,
    plot_probabilities,
)


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
    args = parser.parse_args()
    if args.names is not None and len(args.names) != len(args.work_dirs):
        parser.error(f'--names needs one name per work dir ({len(args.work_dirs)}), '
                     f'got {len(args.names)}')
    if args.window < 1:
        parser.error(f'--window must be >= 1, got {args.window}')
    return args


def main():
    args = parse_args()
    names = args.names or [None] * len(args.work_dirs)
    runs = [load_run(d, name, window=args.window) for d, name in zip(args.work_dirs, names)]
    report = comparison_report(runs, markdown=args.markdown)
    print(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)
    if args.out_plot:
        print(f'mAP curves: {plot_map_curves(runs, args.out_plot)}')
    if args.prob_plot:
        print(f'probabilities: {plot_probabilities(runs, args.prob_plot)}')


if __name__ == '__main__':
    main()
