"""DivergenceGuardOptimWrapper: a NaN loss stops training ('raise') or skips the step ('skip')
before any weight or checkpoint turns non-finite; every rank decides the same way.

End to end: two tiny ASL RetinaNet runs through tools/train.py (started together) whose
``loss_cls`` turns NaN at iteration 3. The rest runs in-process on a toy model.
"""
import datetime
import json
import os
import os.path as osp
import time

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from reliability_helpers import (
    ToyDetector,
    free_port,
    load_checkpoint,
    read_trace,
    toy_runner,
    trace_hook,
    train,
    train_scalars,
    write_config,
)
from reliability_hooks import NaNInjectionHook, parameter_digest
from tiny_detection import write_coco_dataset

from asl_det.engine.optimizers.divergence_guard_optim_wrapper import DivergenceGuardOptimWrapper

ITERS = 5
FAULT = 3  # 1-based iteration whose loss_cls is NaN


#: What a config that uses the guard names in its ``custom_imports``.
GUARD_MODULE = DivergenceGuardOptimWrapper.__module__


def guard(on_nonfinite, **kwargs):
    return dict(type='DivergenceGuardOptimWrapper', on_nonfinite=on_nonfinite, **kwargs)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('guard')
    data = write_coco_dataset(str(root / 'data'))
    dirs = {action: str(root / action) for action in ('raise', 'skip')}
    nan = dict(type='NaNInjectionHook', at_iters=[FAULT])
    started = {
        action: train(write_config(root / f'{action}.py', data, ITERS,
                                   ckpt_interval=1 if action == 'raise' else ITERS,
                                   hooks=[nan, trace_hook(work_dir)],
                                   optim_wrapper=guard(action), imports=[GUARD_MODULE]),
                      work_dir, str(root))
        for action, work_dir in dirs.items()}
    outputs = dict(raise_=started['raise'].wait(expect_rc=1), skip=started['skip'].wait())
    return dirs, outputs


def all_finite(state_dict):
    return all(bool(torch.isfinite(v).all()) for v in state_dict.values()
               if torch.is_tensor(v) and v.is_floating_point())


def test_raise_stops_naming_iteration_and_term_with_finite_checkpoints(runs):
    dirs, outputs = runs
    assert (f'FloatingPointError: non-finite training loss or gradient at iteration {FAULT}: '
            'loss_cls=nan') in outputs['raise_']
    checkpoints = sorted(f for f in os.listdir(dirs['raise']) if f.endswith('.pth'))
    assert checkpoints == [f'iter_{i}.pth' for i in range(1, FAULT)]  # none after the fault
    for name in checkpoints:
        assert all_finite(load_checkpoint(osp.join(dirs['raise'], name))['state_dict'])
    assert sorted(read_trace(dirs['raise'])) == list(range(1, FAULT))


def test_skip_keeps_weights_for_that_step_and_training_continues(runs):
    dirs, outputs = runs
    trace = read_trace(dirs['skip'])
    assert sorted(trace) == list(range(1, ITERS + 1))
    assert all(record['finite'] for record in trace.values())
    assert trace[FAULT]['digest'] == trace[FAULT - 1]['digest']  # the step was skipped
    assert trace[FAULT + 1]['digest'] != trace[FAULT]['digest']  # and training went on
    assert f'iteration {FAULT}: loss_cls=nan; step skipped (1 in a row, 1 in total)' in \
        outputs['skip']
    logged = {line['iter']: line['skipped_steps'] for line in train_scalars(dirs['skip'])}
    assert logged == {i: (0 if i < FAULT else 1) for i in range(1, ITERS + 1)}
    final = load_checkpoint(osp.join(dirs['skip'], f'iter_{ITERS}.pth'))
    assert all_finite(final['state_dict'])
    assert final['optimizer']['divergence_guard'] == dict(skipped_steps=1, consecutive_skips=0)


# ------------------------------------------------------------- toy model, in-process

def nan_hook(*iters):
    return NaNInjectionHook(at_iters=iters, term='cls')


def test_without_the_guard_nan_reaches_weights_and_checkpoints(tmp_path):
    runner = toy_runner(tmp_path, 3, custom_hooks=[nan_hook(2)])
    runner.train()  # plain OptimWrapper: nothing stops it
    assert not torch.isfinite(runner.model.cls.weight).all()
    assert not all_finite(load_checkpoint(str(tmp_path / 'iter_2.pth'))['state_dict'])


def test_max_consecutive_skips_stops_training(tmp_path):
    runner = toy_runner(tmp_path, 8, custom_hooks=[nan_hook(2, 3, 4)],
                        optim_wrapper=guard('skip', max_consecutive_skips=3,
                                            optimizer=dict(type='SGD', lr=0.1)))
    with pytest.raises(FloatingPointError, match='iteration 4: loss_cls=nan; 3 consecutive '
                                                 r'steps skipped \(max_consecutive_skips=3\)'):
        runner.train()
    after_first = load_checkpoint(str(tmp_path / 'iter_2.pth'))  # saved after skipped iter 2
    for key, value in after_first['state_dict'].items():
        torch.testing.assert_close(runner.model.state_dict()[key], value)


def test_fewer_skips_than_the_limit_continue_and_counters_resume(tmp_path):
    optim = guard('skip', max_consecutive_skips=3, optimizer=dict(type='SGD', lr=0.1))
    runner = toy_runner(tmp_path, 6, custom_hooks=[nan_hook(2, 3, 5)], optim_wrapper=optim)
    runner.train()
    assert runner.optim_wrapper.skipped_steps == 3
    assert runner.message_hub.get_scalar('train/skipped_steps').current() == 3
    assert torch.isfinite(runner.model.cls.weight).all()
    resumed = toy_runner(tmp_path, 8, optim_wrapper=optim, resume=True,
                         load_from=str(tmp_path / 'iter_4.pth'))
    resumed.train()
    assert resumed.optim_wrapper.skipped_steps == 2  # 2 and 3 were before the checkpoint


def test_guard_checkpoint_loads_into_a_plain_optim_wrapper(tmp_path):
    toy_runner(tmp_path, 2, optim_wrapper=guard('skip', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9))).train()
    resumed = toy_runner(tmp_path, 4, resume=True, load_from=str(tmp_path / 'iter_2.pth'))
    resumed.train()
    assert resumed.iter == 4


def test_invalid_arguments():
    optimizer = torch.optim.SGD(ToyDetector().parameters(), lr=0.1)
    with pytest.raises(ValueError, match='on_nonfinite'):
        DivergenceGuardOptimWrapper(optimizer=optimizer, on_nonfinite='ignore')
    with pytest.raises(ValueError, match='max_consecutive_skips'):
        DivergenceGuardOptimWrapper(optimizer=optimizer, max_consecutive_skips=0)


# ------------------------------------------------ ranks decide together (2 gloo processes)

def _rank_worker(rank, port, out_dir):
    from mmengine.model import MMDistributedDataParallel
    torch.set_num_threads(1)  # two ranks on a 2-core machine
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                                  world_size=2, timeout=datetime.timedelta(seconds=120))
    torch.manual_seed(0)
    model = ToyDetector()
    ddp = MMDistributedDataParallel(module=model, device_ids=None)
    wrapper = DivergenceGuardOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), on_nonfinite='skip')
    # rank 1 only: a NaN loss term without gradient path, so the all-reduced gradients stay
    # finite and only this rank's loss tells that something is wrong
    if rank == 1:
        model.register_forward_hook(
            lambda module, args, kwargs, output: {**output, 'loss_probe': torch.tensor(
                float('nan'))} if kwargs.get('mode') == 'loss' else output, with_kwargs=True)
    before = parameter_digest(model)
    g = torch.Generator().manual_seed(rank)
    ddp.train_step(dict(inputs=torch.randn(4, 2, generator=g),
                        labels=torch.randn(4, generator=g)), wrapper)
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(dict(unchanged=parameter_digest(model) == before,
                       digest=parameter_digest(model), skipped=wrapper.skipped_steps), f)
    # tear down while both ranks are alive: DDP's reducer holds the process group, and a gloo
    # group destroyed at interpreter exit after its peer has gone could hang in its destructor
    torch_dist.barrier()
    del ddp
    torch_dist.destroy_process_group()


def test_a_nan_on_one_rank_makes_every_rank_skip(tmp_path):
    # spawn, not fork: a fork of a process whose earlier tests ran torch.compile (inductor's
    # threads and worker pool) hung in gloo's teardown; spawn re-imports mmdet (seconds)
    context = mp.start_processes(_rank_worker, args=(free_port(), str(tmp_path)), nprocs=2,
                                 start_method='spawn', join=False)
    deadline = time.monotonic() + 300
    while not context.join(timeout=5):
        if time.monotonic() > deadline:  # fail, never stall the suite
            for process in context.processes:
                process.kill()
            pytest.fail('the 2-rank gloo run did not finish within 300 s')
    results = []
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            results.append(json.load(f))
    assert results[0]['digest'] == results[1]['digest']
    assert all(r['unchanged'] and r['skipped'] == 1 for r in results)
