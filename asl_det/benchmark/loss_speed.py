"""Side-by-side measurement helpers for ``tools/benchmark_loss.py``: interleaved timing, peak
extra tensor memory, a count of the graphs ``torch.compile`` has built, and plain-text tables."""
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from asl_det.benchmark.analysis.tables import format_table


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved_times(fns: Dict[str, Callable[[], object]], repeats: int, warmup: int,
                      device: torch.device) -> Dict[str, Dict[str, List[float]]]:
    """Wall-clock and process CPU seconds per call of every function, in interleaved rounds.

    Each of ``warmup`` untimed rounds and ``repeats`` timed rounds calls every function once; the
    order rotates from round to round, so drifts of a shared machine spread over all of them
    alike. Compare medians of one such run, never numbers from separate runs. Returns
    ``{name: {'wall': [...], 'cpu': [...]}}``; CPU time (all threads of the process, system time
    included) does not count the time the process waits for a core on a busy machine.
    """
    names = list(fns)
    times = {name: dict(wall=[], cpu=[]) for name in names}
    for round_index in range(warmup + repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            wall, cpu = time.perf_counter(), time.process_time()
            fns[name]()
            synchronize(device)
            if round_index >= warmup:
                times[name]['wall'].append(time.perf_counter() - wall)
                times[name]['cpu'].append(time.process_time() - cpu)
    return times


def summarize(times: Sequence[float]) -> Dict[str, float]:
    """Median, min and max of ``times``."""
    return dict(median=statistics.median(times), min=min(times), max=max(times))


def peak_extra_memory(fns: Dict[str, Callable[[], object]],
                      device: torch.device) -> Dict[str, int]:
    """Peak bytes of tensor memory held during each ``fn()`` above what was held before it.

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: every allocation and release of torch's CPU
    allocator, as recorded by ``torch.profiler(profile_memory=True)`` in one session (kineto
    prints a start and a stop line), summed in time order within each function's window: the
    exact high-water mark of tensor memory, not the process RSS, which the C allocator's
    retained pages and other processes blur.
    """
    if device.type == 'cuda':
        peaks = {}
        for name, fn in fns.items():
            synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
            fn()
            synchronize(device)
            peaks[name] = torch.cuda.max_memory_allocated(device) - before
        return peaks
    prefix = 'peak_extra_memory:'
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                profile_memory=True) as prof:
        for name, fn in fns.items():
            with torch.profiler.record_function(prefix + name):
                fn()
    events = prof.profiler.kineto_results.events()
    windows = {event.name()[len(prefix):]: (event.start_ns(), event.end_ns())
               for event in events if event.name().startswith(prefix)}
    cpu = torch.autograd.DeviceType.CPU
    changes = sorted((event.start_ns(), event.nbytes()) for event in events
                     if event.name() == '[memory]' and event.device_type() == cpu)
    peaks = {}
    for name, (start, end) in windows.items():
        held = peak = 0
        for stamp, nbytes in changes:
            if start <= stamp <= end:
                held += nbytes
                peak = max(peak, held)
        peaks[name] = peak
    return peaks


def _dynamo_counters():
    # torch keeps its compile statistics in a private module and has no public accessor;
    # this is the one place the package reads them.
    from torch._dynamo.utils import counters
    return counters


def compiled_graph_count() -> int:
    """Graphs ``torch.compile`` has built in this process so far (all functions)."""
    return _dynamo_counters()['stats']['unique_graphs']


def inductor_cache_hits() -> int:
    """Compiled graphs inductor took from its on-disk cache in this process so far."""
    return _dynamo_counters()['inductor']['fxgraph_cache_hit']


def timing_table(times: Dict[str, Dict[str, List[float]]], baselines: Dict[str, str],
                 extra: Optional[Tuple[str, Dict[str, str]]] = None) -> str:
    """Table of :func:`interleaved_times`: median / min / max wall ms, median CPU ms, an optional
    extra column ``(header, {name: cell})``, and the ratio of medians (wall / CPU) to each
    baseline of ``baselines`` (``{name: short label}``)."""
    stats = {name: (summarize(t['wall']), summarize(t['cpu'])) for name, t in times.items()}
    header = ['variant', 'median ms', 'min ms', 'max ms', 'CPU ms']
    header += [extra[0]] if extra else []
    header += [f'x {label} wall/CPU' for label in baselines.values()]
    rows = []
    for name, (wall, cpu) in stats.items():
        row = [name] + [f'{wall[k] * 1e3:.1f}' for k in ('median', 'min', 'max')]
        row += [f"{cpu['median'] * 1e3:.1f}"] + ([extra[1][name]] if extra else [])
        row += [f"{wall['median'] / stats[b][0]['median']:.3f} / "
                f"{cpu['median'] / stats[b][1]['median']:.3f}" for b in baselines]
        rows.append(row)
    return format_table(header, rows)
