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
``--mode quality``: the quality-target path at RTMDet scale (logits (N, C), N = 8400 priors per
image x ``--batch`` images, ``(labels, scores)`` with 1% foreground and IoU-like scores, label
weights of ones, ``avg_factor=1.0`` as RTMDet calls it): ASL (the defaults, and the
QualityFocalLoss-equivalent setting gamma_pos = gamma_neg = 2, clip 0) eager and compiled against
mmdet's ``QualityFocalLoss(beta=2)``, and on probabilities (``activated=True``, as TOOD) against
``QualityFocalLoss(activated=True)``; time, peak extra memory and ratios to QFL.
``--baseline-math PATH`` (loss mode): also run the fused ASL call through another copy of the
loss math (e.g. the previous version, copied to /tmp): a copy of the package
``asl_det/models/losses/asl_math/``, or of the single module it was split from
(``asymmetric_loss_math.py``), side by side with the current one, both through their
``AsymmetricLossFunction`` directly.
``--mode e2e``: one training iteration (``train_step``: preprocess, forward, backward, clipped SGD
step) of the CPU demo RetinaNet (configs/demo) with FocalLoss, ASL, ASL compiled and ASL with the
probability statistics on, on generated batches of 8 images of 128x128 with 1-8 boxes.
"""
import argparse
import importlib.util
import os.path as osp
import random
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from asl_det.benchmark.loss_speed import (  # noqa: E402
    compiled_graph_count,
    inductor_cache_hits,
    interleaved_times,
    peak_extra_memory,
    timing_table,
)
from asl_det.models.losses import AsymmetricLoss, asl_math  # noqa: E402
from asl_det.models.losses.asymmetric_loss import ASL_DEFAULTS  # noqa: E402
from asl_det.validation import check_device, int_argument  # noqa: E402

DTYPES = dict(float32=torch.float32, float16=torch.float16, bfloat16=torch.bfloat16)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-priors', type=int_argument(1), nargs='+', default=[100000],
                        help='N, one or more values (loss mode)')
    parser.add_argument('--num-classes', type=int_argument(1), default=80, help='C (loss mode)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='float32',
                        help='dtype of the logits (loss mode)')
    parser.add_argument('--repeats', type=int_argument(1), default=15,
                        help='timed interleaved rounds')
    parser.add_argument('--warmup', type=int_argument(0), default=2, help='untimed rounds first')
    parser.add_argument('--mode', choices=('loss', 'quality', 'e2e', 'all'), default='all')
    parser.add_argument('--batch', type=int_argument(1), default=8,
                        help='images per batch (quality mode: N = priors-per-image x batch)')
    parser.add_argument('--priors-per-image', type=int_argument(1), default=8400,
                        help='quality mode: priors per image (RTMDet at 640x640: 8400)')
    parser.add_argument('--baseline-math', default=None, metavar='PATH',
                        help='loss mode: a copy of the asl_math package (a directory) or of '
                             'the older single-file asymmetric_loss_math.py, to run side by '
                             'side')
    parser.add_argument('--threads', type=int_argument(1), default=None,
                        help='torch.set_num_threads (default: torch\'s choice). On a shared '
                             'machine 1 thread keeps the intra-op barriers from waiting on '
                             'descheduled threads, which penalises many small ops')
    args = parser.parse_args(argv)
    try:
        check_device('--device', args.device)
    except ValueError as error:
        parser.error(str(error))
    if args.baseline_math is not None and not osp.exists(args.baseline_math):
        parser.error(f'--baseline-math: no file or folder {args.baseline_math!r}')
    return args


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


def load_math_module(path):
    """A copy of the loss math at ``path``, imported as its own module inside
    ``asl_det.models.losses`` (so that its relative imports resolve there): a directory is a copy
    of the ``asl_math`` package, a file one of the single module it was split from."""
    if osp.isdir(path):
        name = 'asl_det.models.losses.baseline_asl_math'
        spec = importlib.util.spec_from_file_location(
            name, osp.join(path, '__init__.py'), submodule_search_locations=[path])
    else:
        name = 'asl_det.models.losses.baseline_asymmetric_loss_math'
        spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # where the package's own relative imports find it
    spec.loader.exec_module(module)
    return module


def fused_call(math_module, labels, weight, avg_factor, detach, compiled):
    """The fused call ``AsymmetricLoss`` makes (labels, (N, 1) weight, summed, / avg_factor)
    with the training defaults, straight through ``math_module.AsymmetricLossFunction``."""
    # the single module before the split into asl_math called the hyper-parameters Hyper
    parameters = getattr(math_module, 'AslHyperParameters', None) or math_module.Hyper
    hyper = parameters(ASL_DEFAULTS['gamma_pos'], ASL_DEFAULTS['gamma_neg'], ASL_DEFAULTS['clip'],
                       None, detach, ASL_DEFAULTS['eps'])
    function = math_module.AsymmetricLossFunction
    return lambda x: function.apply(x, labels, weight, True, hyper, False, compiled) / avg_factor


def math_module_calls(inputs, baseline):
    """:func:`fused_call` through the current math module and through ``baseline``."""
    _, labels, weights, avg_factor, _ = inputs
    fns = {}
    for compiled, detach in ((False, False), (True, False), (False, True)):
        mode = f"{'compiled' if compiled else 'eager'}, {'detached' if detach else 'full'}"
        for name, module in (('current', asl_math), ('baseline', baseline)):
            fns[f'math {name}: {mode}'] = fused_call(module, labels, weights[:, None],
                                                     avg_factor, detach, compiled)
    return fns


def loss_functions(inputs, baseline_math=None):
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
    if baseline_math is not None:
        fns.update(math_module_calls(inputs, baseline_math))
    fns['BCE-with-logits'] = lambda x: F.binary_cross_entropy_with_logits(
        x, onehot, weights[:, None], reduction='sum') / avg_factor
    return fns, asl


def forward_backward(fn, logits):
    """One timed unit: the loss of a fresh leaf on ``logits`` and its backward."""
    return lambda: fn(logits.detach().requires_grad_()).backward()


def bench_loss(args, num_priors, device):
    inputs = loss_inputs(num_priors, args.num_classes, device, DTYPES[args.dtype])
    logits, labels, weights, avg_factor, _ = inputs
    baseline = load_math_module(args.baseline_math) if args.baseline_math else None
    fns, asl = loss_functions(inputs, baseline)
    steps = {name: forward_backward(fn, logits) for name, fn in fns.items()}

    compile_lines = []
    for name in [n for n in steps if 'compiled' in n and not n.startswith('math')]:
        hits, graphs = inductor_cache_hits(), compiled_graph_count()
        start = time.perf_counter()
        steps[name]()
        seconds = time.perf_counter() - start
        if compiled_graph_count() == graphs:
            how = 'no compile: graph built earlier in this process'
        else:
            cache = inductor_cache_hits() > hits
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
    baselines = {'FocalLoss (mmdet)': 'Focal', 'BCE-with-logits': 'BCE'}
    if baseline is not None:
        baselines['math baseline: eager, full'] = 'baseline math'
        _print_math_ratios(times, memory)
    print(timing_table(times, baselines, extra=('peak extra MiB', memory_cells)))
    print('compile cost (paid once per process and flag set):')
    print('\n'.join(compile_lines))
    print('graphs built as N and gamma_neg change, both compiled modules:')
    print('\n'.join(recompile_lines))


def _print_math_ratios(times, memory):
    """Current / baseline math module, per mode: median wall, median CPU, peak memory."""
    print('current / baseline math module (median wall, median CPU, peak extra memory):')
    for name in [n for n in times if n.startswith('math current: ')]:
        base = name.replace('math current: ', 'math baseline: ')
        ratios = [statistics.median(times[name][k]) / statistics.median(times[base][k])
                  for k in ('wall', 'cpu')]
        mem = memory[name] / memory[base] if memory[base] else float('nan')
        print(f"  {name[len('math current: '):]}: {ratios[0]:.3f} / {ratios[1]:.3f} / {mem:.3f}")


def quality_inputs(num_priors, num_classes, device, dtype, seed=0):
    """RTMDet's call: logits ~ N(-4, 2^2), labels with 1% foreground, IoU-like scores in
    [0.3, 1] on foreground (0 on background), label weights of ones, avg_factor 1.0."""
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(num_priors, num_classes, generator=gen) * 2 - 4).to(device, dtype)
    labels = torch.randint(0, num_classes, (num_priors,), generator=gen)
    labels[torch.rand(num_priors, generator=gen) >= 0.01] = num_classes
    scores = torch.rand(num_priors, generator=gen) * 0.7 + 0.3
    scores[labels == num_classes] = 0.0
    weights = torch.ones(num_priors)
    return logits, (labels.to(device), scores.to(device, dtype)), weights.to(device)


def quality_functions(target, weights):
    """name -> callable(pred with grad) -> scalar loss: ASL and QualityFocalLoss, on logits and
    (names ending in 'probabilities') on probabilities."""
    from mmdet.models.losses import QualityFocalLoss
    qfl_setting = dict(gamma_pos=2.0, gamma_neg=2.0, clip=0.0)
    modules = {}
    for compiled in (False, True):
        path = 'compiled' if compiled else 'eager'
        modules[f'ASL {path}, defaults'] = AsymmetricLoss(compiled=compiled)
        modules[f'ASL {path}, QFL setting (2, 2, clip 0)'] = AsymmetricLoss(
            compiled=compiled, **qfl_setting)
    modules['QualityFocalLoss (mmdet)'] = QualityFocalLoss(beta=2.0)
    modules['ASL eager, defaults, probabilities'] = AsymmetricLoss(activated=True)
    modules['ASL eager, QFL setting, probabilities'] = AsymmetricLoss(activated=True,
                                                                      **qfl_setting)
    modules['QualityFocalLoss (mmdet), probabilities'] = QualityFocalLoss(beta=2.0,
                                                                          activated=True)
    return {name: (lambda x, m=module: m(x, target, weights, avg_factor=1.0))
            for name, module in modules.items()}


def bench_quality(args, device):
    num_priors = args.priors_per_image * args.batch
    logits, target, weights = quality_inputs(num_priors, args.num_classes, device,
                                             DTYPES[args.dtype])
    probs = logits.detach().sigmoid()
    fns = quality_functions(target, weights)
    steps = {name: forward_backward(fn, probs if name.endswith('probabilities') else logits)
             for name, fn in fns.items()}
    compile_lines = []
    for name in [n for n in steps if 'compiled' in n]:
        graphs, start = compiled_graph_count(), time.perf_counter()
        steps[name]()
        compile_lines.append(f'  {name}: first call {time.perf_counter() - start:.1f} s '
                             f'({compiled_graph_count() - graphs} graph(s) built)')
    times = interleaved_times(steps, args.repeats, args.warmup, device)
    memory = peak_extra_memory(steps, device)
    print(f'\n## quality-target loss forward+backward: N={num_priors} ({args.priors_per_image} '
          f'priors x {args.batch} images), C={args.num_classes}, {args.dtype} on {device}, '
          f'{torch.get_num_threads()} thread(s), {args.repeats} interleaved rounds after '
          f'{args.warmup} warm-up; ratios: logits rows to QFL on logits, probability rows to '
          f'QFL on probabilities')
    memory_cells = {name: f'{nbytes / 2 ** 20:.1f}' for name, nbytes in memory.items()}
    qfl, qfl_prob = 'QualityFocalLoss (mmdet)', 'QualityFocalLoss (mmdet), probabilities'
    logit_rows = {n: t for n, t in times.items() if not n.endswith('probabilities')}
    prob_rows = {n: t for n, t in times.items() if n.endswith('probabilities')}
    print(timing_table(logit_rows, {qfl: 'QFL'}, extra=('peak extra MiB', memory_cells)))
    print(timing_table(prob_rows, {qfl_prob: 'QFL'}, extra=('peak extra MiB', memory_cells)))
    print('peak extra memory / QFL: ' + ', '.join(
        f'{name}: {memory[name] / memory[qfl_prob if name in prob_rows else qfl]:.3f}'
        for name in times if name not in (qfl, qfl_prob)))
    print('compile cost (paid once per process and flag set):')
    print('\n'.join(compile_lines))


def bench_e2e(args, device):
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper

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
    if args.mode in ('quality', 'all'):
        bench_quality(args, device)
    if args.mode in ('e2e', 'all'):
        bench_e2e(args, device)


if __name__ == '__main__':
    main()
