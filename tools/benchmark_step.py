"""Time one training iteration of a config's detector, contiguous vs channels-last, side by side.

    python tools/benchmark_step.py configs/bccd/retinanet_bccd_focal.py --threads 1

Builds the config's model twice from the same seed (one as it is, one through
:func:`asl_det.engine.hooks.to_channels_last`, what ``ChannelsLastHook`` does), each with the
config's optimizer wrapper, and times ``train_step`` (preprocess, forward, backward, optimizer
step) on the same batches of the config's own training data in interleaved rounds
(:func:`interleaved_times`). Also prints the time to load one batch in this process (decode +
pipeline + collate, what a dataloader worker does per iteration) and the relative difference of
the two models' first losses.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time
import warnings

import torch
from mmengine.config import DictAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from asl_det.benchmark.loss_speed import interleaved_times, timing_table  # noqa: E402
from asl_det.validation import check_int  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (>= 1)')
    parser.add_argument('--batches', type=int, default=4,
                        help='distinct training batches, cycled (>= 1)')
    parser.add_argument('--repeats', type=int, default=10, help='timed rounds (>= 1)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed rounds (>= 0)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, as in tools/train.py')
    args = parser.parse_args(argv)
    for name, low in (('threads', 1), ('batches', 1), ('repeats', 1), ('warmup', 0)):
        try:
            check_int(f'--{name}', getattr(args, name), low=low)
        except ValueError as error:
            parser.error(str(error))
    return args


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    torch.set_num_threads(args.threads)
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    from asl_det.engine.hooks import to_channels_last

    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = iter(Runner.build_dataloader(loader_cfg, seed=0))
    batches, load_times = [], []
    for _ in range(args.batches):
        start = time.perf_counter()
        batches.append(next(loader))
        load_times.append(time.perf_counter() - start)

    def build(channels_last):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.train()
        if channels_last:
            to_channels_last(model)
        return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))

    variants = {'contiguous': build(False), 'channels_last': build(True)}
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
    print(timing_table(times, {'contiguous': 'contiguous'}))
    print(f'first loss: contiguous {first["contiguous"]:.6f}, channels_last '
          f'{first["channels_last"]:.6f} (relative difference '
          f'{abs(first["channels_last"] / first["contiguous"] - 1):.1e})')
    print(f'loading one batch in this process: median {statistics.median(load_times):.3f} s '
          f'over {args.batches}')


if __name__ == '__main__':
    main()
