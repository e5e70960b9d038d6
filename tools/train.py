"""Train a detector: mmdet's tools/train.py with asl_det registered, plus ``--asl``.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                          [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
                          [--asl [k=v ...]]

CONFIG is a file or an ``mmdet::`` path. ``--asl`` swaps the classification loss of any
single-stage config for AsymmetricLoss (``asl_det.utils.asl_config.swap_in_asl``), e.g.
``python tools/train.py mmdet::fsaf/fsaf_r50_fpn_1x_coco.py --asl gamma_neg=3 clip=0.1``.
"""
import argparse
import os

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmdet.utils import setup_cache_size_limit_of_dynamo

import asl_det  # noqa: F401  (registers the loss and hooks, checkpoint loading on torch>=2.6)
from asl_det.utils import runtime
from asl_det.utils.asl_config import swap_in_asl


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path (or mmdet::path)')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='enable automatically scaling LR.')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='If specify checkpoint path, resume from it, while if not specify, '
                        'try to auto resume from the latest checkpoint in the work directory.')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in '
                        'xxx=yyy format will be merged into config file. If the value to be '
                        'overwritten is a list, it should be like key="[a,b]" or key=a,b. It also '
                        'allows nested list/tuple values, e.g. key="[(a,b),(c,d)]". Note that the '
                        'quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=list(runtime.LAUNCHERS), default='none',
                        help='job launcher')
    parser.add_argument('--asl', nargs='*', action=DictAction, metavar='KEY=VALUE',
                        help='replace every sigmoid loss_cls of the model by AsymmetricLoss '
                        '(gamma_pos=0, gamma_neg=4, clip=0.05, loss_weight=1), with these '
                        'AsymmetricLoss arguments overridden, e.g. --asl gamma_neg=3 clip=0.1')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    setup_cache_size_limit_of_dynamo()

    cfg = runtime.load_config(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.asl is not None:
        replaced = swap_in_asl(cfg, **args.asl)
        print_log(f'AsymmetricLoss in {", ".join(replaced)}', logger='current')
    runtime.set_work_dir(cfg, args.work_dir, args.config)
    if args.amp:
        runtime.enable_amp(cfg)
    if args.auto_scale_lr:
        runtime.enable_auto_scale_lr(cfg)
    runtime.set_resume(cfg, args.resume)
    runtime.setup_cpu_distributed(cfg)

    runner = runtime.build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
