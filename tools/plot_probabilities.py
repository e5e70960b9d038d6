"""Plot the ASL probability statistics of training runs over iterations (the paper's figure):
mean probability on positives and negatives, their gap and gamma_neg.

    python tools/plot_probabilities.py WORK_DIR [WORK_DIR ...] --out probs.png [--names A B ...]

Needs runs logged with ProbabilityStatisticsHook (every asl_det config has it).
"""
import argparse
import sys

from asl_det.benchmark.analysis import load_run, plot_probabilities, run_names
from asl_det.validation import check_png_output, usage_error


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', help='work dirs of tools/train.py runs')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--names', nargs='+', help='run names (default: work dir basenames)')
    args = parser.parse_args()
    if args.names is not None and len(args.names) != len(args.work_dirs):
        parser.error(f'--names needs one name per work dir ({len(args.work_dirs)}), '
                     f'got {len(args.names)}')
    return args


def main():
    args = parse_args()
    try:  # before any run is read
        args.names = run_names(args.work_dirs, args.names)
        check_png_output('--out', args.out)
    except ValueError as error:
        sys.exit(usage_error(error))
    runs = [load_run(d, name) for d, name in zip(args.work_dirs, args.names)]
    print(plot_probabilities(runs, args.out))


if __name__ == '__main__':
    main()
