"""Time one training iteration of a config's detector, side by side: contiguous vs channels-last
weights, or fp32 vs bf16 autocast.

    python tools/benchmark_step.py configs/bccd/retinanet_bccd_focal.py --threads 1
    python tools/benchmark_step.py configs/bccd/retinanet_bccd_focal.py --compare bf16

Builds the config's model twice from the same seed, each with the config's optimizer wrapper:
``--compare channels_last`` (default) one as it is and one through
:func:`asl_det.engine.hooks.channels_last_hook.to_channels_last` (what ``ChannelsLastHook``
does); ``--compare bf16`` both channels-last and one of them trained under bf16 autocast
(:class:`~asl_det.engine.optimizers.cpu_autocast_optim_wrapper.CPUAutocastOptimWrapper`). It
times ``train_step`` (preprocess, forward, backward, optimizer step) on the same batches of the
config's own training data in interleaved rounds (:func:`interleaved_times`). Also prints the
time to load one batch in this process (decode + pipeline + collate, what a dataloader worker does
per iteration) and the relative difference of the two models' first losses.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time
import warnings

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from asl_det.benchmark.loss_speed import interleaved_times, timing_table  # noqa: E402
from asl_det.launch import runtime  # noqa: E402
from asl_det.validation import check_int  # noqa: E402

#: --compare -> (name of the baseline model, name of the changed one).
COMPARISONS = {'channels_last': ('contiguous', 'channels_last'), 'bf16': ('fp32', 'bf16')}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (>= 1)')
    parser.add_argument('--batches', type=int, default=4,
                        help='distinct training batches, cycled (>= 1)')
    parser.add_argument('--repeats', type=int, default=10, help='timed rounds (>= 1)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed rounds (>= 0)')
    parser.add_argument('--compare', choices=sorted(COMPARISONS), default='channels_last',
                        help='what the second model changes (default: channels_last)')
    parser.add_argument('--cfg-options', nargs='+', action=runtime.KeyValueAction, default={},
                        help='override config keys, as in tools/train.py')
    args = parser.parse_args(argv)
    for name, low in (('threads', 1), ('batches', 1), ('repeats', 1), ('warmup', 0)):
        try:
            check_int(f'--{name}', getattr(args, name), low=low)
        except ValueError as error:
            parser.error(str(error))
    return args


def main(argv=None):
    runtime.report_user_errors()  # a missing or broken config: one line
    args = parse_args(argv)
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    torch.set_num_threads(args.threads)
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    from asl_det.engine.hooks.channels_last_hook import to_channels_last
    from asl_det.engine.optimizers.cpu_autocast_optim_wrapper import CPUAutocastOptimWrapper

    register_all_modules()
    cfg = runtime.load_user_config(args.config)
    cfg.merge_from_dict(args.cfg_options)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = iter(Runner.build_dataloader(loader_cfg, seed=0))
    batches, load_times = [], []
    for _ in range(args.batches):
        start = time.perf_counter()
        batches.append(next(loader))
        load_times.append(time.perf_counter() - start)

    def build(channels_last, bf16=False):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.train()
        if channels_last:
            to_channels_last(model)
        wrapper = copy.deepcopy(cfg.optim_wrapper)
        if bf16:
            wrapper.type = CPUAutocastOptimWrapper
        return model, build_optim_wrapper(model, wrapper)

    base, changed = COMPARISONS[args.compare]
    if args.compare == 'channels_last':
        variants = {base: build(False), changed: build(True)}
    else:
        variants = {base: build(True), changed: build(True, bf16=True)}
    first = {name: model.train_step(batches[0], wrapper)['loss'].item()
             for name, (model, wrapper) in variants.items()}
    calls = dict.fromkeys(variants, 1)

    def step(name):
        model, wrapper = variants[name]
        model.train_step(batches[calls[name] % len(batches)], wrapper)
        calls[name] += 1

    times = interleaved_times({name: (lambda name=name: step(name)) for name in variants},
                              args.repeats, args.warmup, torch.device('cpu'))
    batch_size = cfg.train_dataloader.batch_size
    print(f'## training iteration of {args.config} (batch {batch_size}) on cpu, '
          f'{args.threads} thread(s), {args.repeats} interleaved rounds after '
          f'{args.warmup} warm-up')
    print(timing_table(times, {base: base}))
    print(f'first loss: {base} {first[base]:.6f}, {changed} {first[changed]:.6f} (relative '
          f'difference {abs(first[changed] / first[base] - 1):.1e})')
    print(f'loading one batch in this process: median {statistics.median(load_times):.3f} s '
          f'over {args.batches}')


if __name__ == '__main__':
    main()
