"""Train a detector: mmdet's tools/train.py with asl_det registered, plus ``--asl``.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                          [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
                          [--asl [k=v ...]] [--trust-checkpoint]
                          [--skip-bad-images | --no-preflight]

CONFIG is a file or an ``mmdet::`` path. ``--asl`` swaps every sigmoid classification loss of a
config for AsymmetricLoss (``asl_det.config.asl_swap.swap_in_asl``: dense and DETR-family heads;
in a two-stage detector the RPN's sigmoid objectness loss, not the softmax RoI head), e.g.
``python tools/train.py mmdet::fsaf/fsaf_r50_fpn_1x_coco.py --asl gamma_neg=3 clip=0.1``.

Resuming: a checkpoint trained with other classification losses than the resumed run's (e.g.
resumed without the ``--asl`` it was trained with) is refused
(``asl_det.engine.hooks.resumed_loss_check_hook``); a run stopped after a checkpoint but before
the validation that follows it gets that validation first
(``asl_det.engine.hooks.resumed_validation_hook``), so that no evaluation is missing from its
learning curve.

Checkpoints: this tool opts in to asl_det's safe loader (``load_from``, ``--resume`` and
pretrained weights load weights-only; ``--trust-checkpoint`` unpickles trusted files fully) and to
atomic checkpoint writes (the ``'atomic_local'`` backend, unless the config's checkpoint hook
names ``backend_args``; the run's dumped config shows it). The loader replaces mmengine's for
this process only.

Data: before the runner is built, the pre-flight check
(``asl_det.intake.preflight.preflight_config``; cached, see ``tools/preflight.py``) decodes every
image of the config's COCO-format data sets and checks their annotations; it stops a run whose
data would fail or be silently wrong, naming the files. ``--skip-bad-images`` trains without
images that cannot be decoded (through filtered annotation copies in the cache);
``--no-preflight`` skips the check. After a pre-flight check, ``<work_dir>/skipped_images.json``
lists the images it left out (``asl_det.launch.skipped_images``).

While it trains, the run holds ``<work_dir>/.running`` (``asl_det.launch.work_dir_lock``), so a
study never clears a work dir in use; a SIGTERM removes it and stops the data loader workers
before it ends the run. A bad config, option or data set ends it with one line naming the
problem and exit status 1 (``asl_det.launch.runtime.USER_ERRORS``); other errors keep their
traceback.
"""
import argparse

from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.logging import print_log

import asl_det  # noqa: F401  (registers the loss and its two hooks)
from asl_det.checkpoint import use_safe_checkpoint_loader
from asl_det.checkpoint.atomic_backend import use_atomic_checkpoint_writes  # registers the backend
from asl_det.config.asl_swap import ASL_LOSS_CFG, swap_in_asl
from asl_det.engine.hooks.resumed_loss_check_hook import ResumedLossCheckHook
from asl_det.engine.hooks.resumed_validation_hook import ResumedValidationHook
from asl_det.intake.preflight import preflight_config
from asl_det.launch import runtime
from asl_det.launch.skipped_images import skipped_images, write_skipped_images

#: What ``--asl`` writes (the loss's own defaults, ``ASL_DEFAULTS``), as its help shows it.
ASL_SWAP_ARGUMENTS = ', '.join(f'{key}={value}' for key, value in ASL_LOSS_CFG.items()
                               if key not in ('type', 'use_sigmoid'))


def build_parser() -> argparse.ArgumentParser:
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
    runtime.add_common_arguments(parser)
    parser.add_argument('--asl', nargs='*', action=runtime.KeyValueAction, metavar='KEY=VALUE',
                        help='replace every sigmoid loss_cls of the model by AsymmetricLoss '
                        f'({ASL_SWAP_ARGUMENTS}), with these AsymmetricLoss arguments '
                        'overridden, e.g. --asl gamma_neg=3 clip=0.1')
    preflight = parser.add_mutually_exclusive_group()  # skipping needs the check that finds
    preflight.add_argument('--skip-bad-images', action='store_true',
                           help='pre-flight: train without images that cannot be decoded '
                           '(reported; the annotation files are filtered into a cached copy)')
    preflight.add_argument('--no-preflight', action='store_true',
                           help='skip the pre-flight check of the data (images and '
                           'annotations)')
    return parser


def parse_args():
    args = build_parser().parse_args()
    runtime.export_local_rank(args)
    return args


def main():
    runtime.report_user_errors()
    args = parse_args()
    setup_cache_size_limit_of_dynamo()
    use_safe_checkpoint_loader(trust=args.trust_checkpoint)

    def swap(cfg):  # before --cfg-options, so that their settings of the loss stay
        with runtime.user_input('--asl'):  # an unknown argument, a refused head: one line
            replaced = swap_in_asl(cfg, **args.asl)
        print_log(f'AsymmetricLoss in {", ".join(replaced)}', logger='current')

    cfg = runtime.prepare_config(args.config, args.launcher, args.cfg_options, args.work_dir,
                                 edit=swap if args.asl is not None else None)
    use_atomic_checkpoint_writes(cfg)
    if args.amp:
        runtime.enable_amp(cfg)
    if args.auto_scale_lr:
        runtime.enable_auto_scale_lr(cfg)
    runtime.set_resume(cfg, args.resume)
    runtime.setup_cpu_distributed(cfg)
    with runtime.hold_training_work_dir(cfg):
        skipped = None
        if not args.no_preflight:  # every rank: the first decodes, the others wait for its cache
            with runtime.user_input():
                checked = preflight_config(cfg, skip_bad_images=args.skip_bad_images,
                                           log=lambda line: print_log(line, logger='current'),
                                           splits=('train', 'val'))  # what training reads
            skipped, cfg = skipped_images(checked, cfg), checked

        runner = runtime.build_runner(cfg)
        if cfg.get('resume'):  # the losses it was trained with; the validation it stopped before
            runner.register_hook(ResumedLossCheckHook())
            runner.register_hook(ResumedValidationHook())
        if skipped is not None and runtime.launcher_rank(cfg.launcher) == 0 and \
                '://' not in cfg.work_dir:
            write_skipped_images(cfg.work_dir, skipped)
        runner.train()
        runtime.close_process_group(runner)


if __name__ == '__main__':
    main()
