"""Main job: focal loss vs ASL on the built-in glyph benchmark, from scratch, on CPU in minutes.

    python tools/demo.py      # default: 1 seed, 1600 iterations, < 15 min on 2 cores

The terminal shows one line per stage, a progress line per run while it trains and the tables;
mmengine's output goes to each run's work dir (console.log, inference_profile.log).
    python tools/demo.py --seeds 0 1 2 --iters 2000 --adaptive --missing-labels 0.3 --device cuda
"""
import argparse
import os
import os.path as osp
import sys

from asl_det.benchmark.comparison import ComparisonSettings, run_comparison
from asl_det.benchmark.glyph_runs import ignore_third_party_warnings
from asl_det.launch.runtime import KeyValueAction
from asl_det.validation import usage_error

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/demo', help='runs, report and plots')
    parser.add_argument('--data-root', default='data/glyphs', help='generated data (cached)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--iters', type=int, default=1600, help='training iterations per run')
    parser.add_argument('--val-interval', type=int, default=None,
                        help='iterations between evaluations (default: iters / 2)')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=500)
    parser.add_argument('--missing-labels', type=float, default=0.0,
                        help='fraction of training boxes left unlabeled, in [0, 1)')
    parser.add_argument('--adaptive', action='store_true',
                        help='also train ASL with adaptive asymmetry')
    parser.add_argument('--variants', nargs='+', default=None,
                        help='explicit variants (focal, asl, asl_adaptive)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--workers', type=int, default=None,
                        help='runs trained at the same time (default: one per CPU core on CPU, '
                        '1 on CUDA)')
    parser.add_argument('--no-profile', action='store_true',
                        help='skip the inference profile (candidates per image, timing)')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, default={},
                        help='override keys of every run config, as in tools/train.py')
    return parser.parse_args()


def main():
    args = parse_args()
    ignore_third_party_warnings()
    variants = args.variants or (['focal', 'asl'] + (['asl_adaptive'] if args.adaptive else []))
    settings = ComparisonSettings(
        configs_dir=osp.join(REPO, 'configs', 'demo'), work_root=args.work_dir,
        data_root=args.data_root, variants=variants, seeds=args.seeds, max_iters=args.iters,
        val_interval=(max(args.iters // 2, 1) if args.val_interval is None
                      else args.val_interval),
        num_train=args.num_train, num_val=args.num_val,
        missing_label_fraction=args.missing_labels, device=args.device,
        profile_inference=not args.no_profile, cfg_options=dict(args.cfg_options),
        workers=((os.cpu_count() or 1 if args.device == 'cpu' else 1) if args.workers is None
                 else args.workers))
    try:  # every value checked before the data is generated or a run starts
        settings.validate()
    except (TypeError, ValueError) as error:
        sys.exit(usage_error(error))
    run_comparison(settings)


if __name__ == '__main__':
    main()
