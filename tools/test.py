"""Test (and evaluate) a detector: mmdet's tools/test.py with asl_det registered.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show]
                         [--show-dir DIR] [--wait-time S] [--cfg-options k=v ...]
                         [--launcher {none,pytorch,slurm,mpi}] [--tta] [--trust-checkpoint]

CHECKPOINT loads through asl_det's safe loader (weights only, plus the globals mmengine
checkpoints hold): a file that needs more is refused, naming it; ``--trust-checkpoint`` unpickles
a trusted file fully. The loader replaces mmengine's for this process only.
The test metrics JSON is written by the main process only (mmengine writes it from every rank).
A checkpoint trained with other classification losses than CONFIG names (e.g. with ``--asl``,
tested with the config it swapped) is tested with a warning naming them: its scores come from
CONFIG's loss.
A bad config, option or checkpoint path ends it with one line naming the problem and exit status
1 (``asl_det.launch.runtime.USER_ERRORS``); other errors keep their traceback.
"""
import argparse
import os.path as osp

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmdet.utils import setup_cache_size_limit_of_dynamo

import asl_det  # noqa: F401  (registers the loss and its two hooks)
from asl_det.checkpoint import use_safe_checkpoint_loader
from asl_det.engine.hooks.resumed_loss_check_hook import ResumedLossCheckHook
from asl_det.launch import runtime


def parse_args():
    parser = argparse.ArgumentParser(description='MMDet test (and eval) a model')
    parser.add_argument('config', help='test config file path (or mmdet::path)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir',
                        help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir',
                        help='directory where painted images will be saved. If specified, it '
                        'will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    runtime.add_common_arguments(parser)
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (flip)')
    args = parser.parse_args()
    runtime.export_local_rank(args)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must be a .pkl or .pickle file, got {args.out!r}')
    return args


def main():
    runtime.report_user_errors()
    args = parse_args()
    setup_cache_size_limit_of_dynamo()
    use_safe_checkpoint_loader(trust=args.trust_checkpoint)

    cfg = runtime.prepare_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise runtime.MissingFileError(f'checkpoint {args.checkpoint} does not exist')
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        runtime.enable_tta(cfg)
    runtime.setup_cpu_distributed(cfg)
    runtime.log_test_metrics_once(cfg)

    runner = runtime.build_runner(cfg, phase='test')
    runner.register_hook(ResumedLossCheckHook(refuse=False))  # a warning: tested with another loss
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()
    runtime.close_process_group(runner)


if __name__ == '__main__':
    main()
