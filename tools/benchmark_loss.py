"""Benchmark ASL against the losses it replaces, side by side in one process.

    python tools/benchmark_loss.py --num-priors 100000 200000 --num-classes 80 --mode all

``--mode loss``: forward+backward of the classification loss at detector size (logits (N, C),
labels (N,) with 1% foreground, per-prior weights with 5% zeros, ``avg_factor`` = number of
positives, as a RetinaNet head calls it): ASL eager and compiled, each with the full and the
detached focusing-weight gradient, mmdet's ``FocalLoss`` (``py_sigmoid_focal_loss`` on CPU) and
eager ``binary_cross_entropy_with_logits`` (given a ready float one-hot target). Median / min / max
wall time and median process CPU time over interleaved rounds, peak extra tensor memory, ratios of
medians to Focal and BCE, the compiled path's one-off compile time and the graphs it builds when N
and ``gamma_neg`` change. On a shared machine prefer ``--threads 1`` and the CPU-time ratios.
``--mode e2e``: one training iteration (``train_step``: preprocess, forward, backward, clipped SGD
step) of the CPU demo RetinaNet (configs/demo) with FocalLoss, ASL, ASL compiled and ASL with the
probability statistics on, on generated batches of 8 images of 128x128 with 1-8 boxes.
"""
import argparse
import os.path as osp
import random
import sys
import time
import warnings

import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from asl_det.models.losses import AsymmetricLoss  # noqa: E402
from asl_det.utils.benchmark import (compiled_graph_count, interleaved_times,  # noqa: E402
                                     peak_extra_memory, timing_table)

DTYPES = dict(float32=torch.float32, float16=torch.float16, bfloat16=torch.bfloat16)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-priors', type=int, nargs='+', default=[100000],
                        help='N, one or more values (loss mode)')
    parser.add_argument('--num-classes', type=int, default=80, help='C (loss mode)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='float32',
                        help='dtype of the logits (loss mode)')
    parser.add_argument('--repeats', type=int, default=15, help='timed interleaved rounds')
    parser.add_argument('--warmup', type=int, default=2, help='untimed rounds first')
    parser.add_argument('--mode', choices=('loss', 'e2e', 'all'), default='all')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s choice). On a shared '
                             'machine 1 thread keeps the intra-op barriers from waiting on '
                             'descheduled threads, which penalises many small ops')
    return parser.parse_args(argv)


def loss_inputs(num_priors, num_classes, device, dtype, seed=0):
    """Logits ~ N(-4, 2^2) (a trained-from-prior RetinaNet head), labels with 1% foreground,
    weights with 5% ignored priors, avg_factor = number of positives."""
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(num_priors, num_classes, generator=gen) * 2 - 4).to(device, dtype)
    labels = torch.randint(0, num_classes, (num_priors,), generator=gen)
    labels[torch.rand(num_priors, generator=gen) >= 0.01] = num_classes  # background
    weights = (torch.rand(num_priors, generator=gen) >= 0.05).float()
    avg_factor = max(float((labels < num_classes).sum()), 1.0)
    onehot = F.one_hot(labels, num_classes + 1)[:, :num_classes].to(dtype)
    return logits, labels.to(device), weights.to(device), avg_factor, onehot.to(device)


def loss_functions(inputs):
    """name -> callable(logits with grad) -> scalar loss, and the compiled ASL modules."""
    from mmdet.models.losses import FocalLoss
    _, labels, weights, avg_factor, onehot = inputs
    asl = {(compiled, detach): AsymmetricLoss(compiled=compiled, detach_focal_weight=detach)
           for compiled in (False, True) for detach in (False, True)}
    focal = FocalLoss(use_sigmoid=True, gamma=2.0, alpha=0.25)

    def module_call(module):
        return lambda x: module(x, labels, weights, avg_factor=avg_factor)

    fns = {}
    for (compiled, detach), module in asl.items():
        name = f"ASL {'compiled' if compiled else 'eager'}, {'detached' if detach else 'full'}"
        fns[name + ' grad'] = module_call(module)
    # a gamma_neg as the adaptive-asymmetry hook leaves it: no integer fast path in eager
    for compiled in (False, True):
        module = AsymmetricLoss(gamma_neg=3.7, compiled=compiled)
        name = f"ASL {'compiled' if compiled else 'eager'}, full grad, gamma_neg 3.7"
        fns[name] = module_call(module)
    fns['FocalLoss (mmdet)'] = module_call(focal)
    fns['BCE-with-logits'] = lambda x: F.binary_cross_entropy_with_logits(
        x, onehot, weights[:, None], reduction='sum') / avg_factor
    return fns, asl


def forward_backward(fn, logits):
    """One timed unit: the loss of a fresh leaf on ``logits`` and its backward."""
    return lambda: fn(logits.detach().requires_grad_()).backward()


def bench_loss(args, num_priors, device):
    from torch._dynamo.utils import counters
    inputs = loss_inputs(num_priors, args.num_classes, device, DTYPES[args.dtype])
    logits, labels, weights, avg_factor, _ = inputs
    fns, asl = loss_functions(inputs)
    steps = {name: forward_backward(fn, logits) for name, fn in fns.items()}

    compile_lines = []
    for name in [n for n in steps if 'compiled' in n]:
        hits, graphs = counters['inductor']['fxgraph_cache_hit'], compiled_graph_count()
        start = time.perf_counter()
        steps[name]()
        seconds = time.perf_counter() - start
        if compiled_graph_count() == graphs:
            how = 'no compile: graph built earlier in this process'
        else:
            cache = counters['inductor']['fxgraph_cache_hit'] > hits
            how = f"includes compile; inductor FX graph cache {'hit' if cache else 'miss'}"
        compile_lines.append(f'  {name}: first call {seconds:.1f} s ({how})')

    modules = (asl[(True, False)], asl[(True, True)])

    def new_graphs(num_priors_list, gamma_neg):
        graphs = compiled_graph_count()
        for module in modules:
            module.gamma_neg = gamma_neg
            for n in num_priors_list:
                x = logits[:n].detach().requires_grad_()
                module(x, labels[:n], weights[:n], avg_factor=avg_factor).backward()
        return compiled_graph_count() - graphs

    sizes = [num_priors // 2 + 1, num_priors // 3 + 7, num_priors - 13]
    gammas = [3.75, 4.25, round(4 + 1 / 3, 3)]  # as the adaptive-asymmetry hook changes it
    recompile_lines = [
        f'  N in {sizes}: {new_graphs(sizes, 4.0)} new graph(s)',
        f'  gamma_neg in {gammas}: ' + ', '.join(
            str(new_graphs([num_priors], gamma)) for gamma in gammas)
        + ' new graph(s) (all non-integral values share one graph per flag set, built at the '
        'first use)',
        f'  gamma_neg back to 4.0: {new_graphs([num_priors], 4.0)} new graph(s)']

    times = interleaved_times(steps, args.repeats, args.warmup, device)
    memory = peak_extra_memory(steps, device)
    print(f'\n## loss forward+backward: N={num_priors}, C={args.num_classes}, {args.dtype} on '
          f'{device}, {torch.get_num_threads()} thread(s), {args.repeats} interleaved rounds '
          f'after {args.warmup} warm-up')
    memory_cells = {name: f'{nbytes / 2 ** 20:.1f}' for name, nbytes in memory.items()}
    print(timing_table(times, {'FocalLoss (mmdet)': 'Focal', 'BCE-with-logits': 'BCE'},
                       extra=('peak extra MiB', memory_cells)))
    print('compile cost (paid once per process and flag set):')
    print('\n'.join(compile_lines))
    print('graphs built as N and gamma_neg change, both compiled modules:')
    print('\n'.join(recompile_lines))


def bench_e2e(args, device):
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs

    from asl_det.engine.hooks import ProbabilityStatisticsHook

    def build(config, **loss_attrs):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', config))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device).train()
        for key, value in loss_attrs.items():
            setattr(model.bbox_head.loss_cls, key, value)
        # the warm-up's starting lr (LinearLR start_factor 0.001 of 0.01): weights stay sane
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9, weight_decay=1e-4)
        return model, OptimWrapper(optimizer, clip_grad=dict(max_norm=10, norm_type=2))

    variants = {
        'RetinaNet + FocalLoss': build('retinanet_glyphs_focal.py'),
        'RetinaNet + ASL eager': build('retinanet_glyphs_asl.py'),
        'RetinaNet + ASL compiled': build('retinanet_glyphs_asl.py', compiled=True),
        'RetinaNet + ASL eager + statistics': build('retinanet_glyphs_asl.py'),
    }
    statistics = ProbabilityStatisticsHook()  # measures every iteration, as in the demo configs
    assert statistics.attach(variants['RetinaNet + ASL eager + statistics'][0])
    num_classes = variants['RetinaNet + FocalLoss'][0].bbox_head.num_classes
    rng = random.Random(0)
    torch.manual_seed(0)
    batches = [demo_mm_inputs(8, [[3, 128, 128]] * 8,
                              num_items=[rng.randint(1, 8) for _ in range(8)],
                              num_classes=num_classes, device=str(device)) for _ in range(4)]
    calls = {name: 0 for name in variants}

    def iteration(name):  # every variant sees the same sequence of batches
        model, optim_wrapper = variants[name]
        measure = name.endswith('statistics')
        if measure:
            statistics.start()
        model.train_step(batches[calls[name] % len(batches)], optim_wrapper)
        if measure and statistics.finish() is None:
            raise RuntimeError('the statistics hook measured nothing')
        calls[name] += 1

    steps = {name: (lambda name=name: iteration(name)) for name in variants}
    graphs, start = compiled_graph_count(), time.perf_counter()
    steps['RetinaNet + ASL compiled']()
    first_compiled = time.perf_counter() - start
    how = f'{compiled_graph_count() - graphs} graph(s) compiled in it'
    times = interleaved_times(steps, args.repeats, args.warmup, device)
    print(f'\n## training iteration of configs/demo RetinaNet (batch 8 x 128x128, '
          f'{num_classes} classes) on {device}, {torch.get_num_threads()} thread(s), '
          f'{args.repeats} interleaved rounds after {args.warmup} warm-up')
    print(timing_table(times, {'RetinaNet + FocalLoss': 'Focal'}))
    print(f'  ASL compiled: first iteration {first_compiled:.1f} s ({how})')


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.mode in ('loss', 'all'):
        for num_priors in args.num_priors:
            bench_loss(args, num_priors, device)
    if args.mode in ('e2e', 'all'):
        bench_e2e(args, device)


if __name__ == '__main__':
    main()
