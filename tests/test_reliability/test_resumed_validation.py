"""A run stopped after a checkpoint but before the validation that follows it gets that
validation when it resumes (``tools/train.py --resume``), and no other.

Five tiny RetinaNet runs (6 iterations, a checkpoint and a validation every 2) start together:
an uninterrupted reference; one that exits after the iteration-4 checkpoint, before its
validation; one that exits after the final checkpoint, before the final validation; one that
exits before iteration 5 (its iteration-4 validation logged); one with LoggerHook's defaults
(validations at step 0, a train line every 4 iterations) exits after the final checkpoint. Each
resumes with ``--resume``: its learning curve and final weights must be the reference's.
"""
import os.path as osp

import pytest
import torch
from reliability_helpers import load_checkpoint, train
from tiny_detection import write_coco_dataset, write_tiny_config

from asl_det.benchmark.analysis import load_run

ITERS = 6
RESUMED_VALIDATION = 'before training resumes: the logs of'
STOPS = {  # run -> (hook type, iteration): where its first sitting ends
    'between_checkpoint_and_validation': ('ExitAfterCheckpointHook', 4),
    'before_final_validation': ('ExitAfterCheckpointHook', ITERS),
    'after_validation': ('ExitHook', 5),
    # LoggerHook's defaults: validations logged at step 0, a train line every 4 iterations
    'step_zero_before_final_validation': ('ExitAfterCheckpointHook', ITERS),
}
STEP_ZERO_LOGGER = 'dict(interval=4, log_metric_by_epoch=True)'


def write_config(path, base, hooks, logger='dict()'):
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n'
                "custom_imports = dict(imports=['asl_det', 'reliability_hooks'], "
                'allow_failed_imports=False)\n'
                'train_cfg = dict(val_interval=2)\n'
                f'default_hooks = dict(checkpoint=dict(interval=2), logger={logger})\n'
                f'custom_hooks = {hooks!r}\n')
    return str(path)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('resumed_validation')
    data = write_coco_dataset(str(root / 'data'), num_train=4)
    base = write_tiny_config(str(root / 'tiny_base.py'), data, ITERS)
    dirs = {name: str(root / name) for name in ('reference', *STOPS)}
    configs = {}
    for name in dirs:
        hooks = [dict(type='ProbabilityStatisticsHook')]
        if name in STOPS:
            kind, at_iter = STOPS[name]
            hooks.append(dict(type=kind, at_iter=at_iter, marker=str(root / f'{name}.stopped')))
        configs[name] = write_config(root / f'{name}.py', base, hooks,
                                     STEP_ZERO_LOGGER if name.startswith('step_zero') else 'dict()')
    first = {name: train(configs[name], dirs[name], str(root)) for name in dirs}
    outputs = {'reference': first['reference'].wait()}
    for name in STOPS:
        first[name].wait(expect_rc=3)
    resumed = {name: train(configs[name], dirs[name], str(root), '--resume',
                           log_name=f'{name}_resumed.log') for name in STOPS}
    outputs.update({name: run.wait() for name, run in resumed.items()})
    return dict(dirs=dirs, outputs=outputs)


def curve(work_dir):
    return [(line['iter'], line['step'], line['coco/bbox_mAP'], line['coco/bbox_mAP_50'])
            for line in load_run(work_dir).val]


@pytest.mark.parametrize('name', list(STOPS))
def test_a_resumed_run_has_every_validation_and_ends_as_the_uninterrupted_one(runs, name):
    dirs, outputs = runs['dirs'], runs['outputs']
    reference = curve(dirs['reference'])
    assert [point[:2] for point in reference] == [(2, 2), (4, 4), (6, 6)]
    if name.startswith('step_zero'):  # the steps say no iteration: the metrics, in order
        assert [point[2:] for point in curve(dirs[name])] == [p[2:] for p in reference]
    else:
        assert curve(dirs[name]) == reference
    validated = f'validating at iteration {STOPS[name][1]} {RESUMED_VALIDATION}'
    assert (validated in outputs[name]) == (name != 'after_validation')
    assert RESUMED_VALIDATION not in outputs['reference']
    expected = load_checkpoint(osp.join(dirs['reference'], f'iter_{ITERS}.pth'))['state_dict']
    actual = load_checkpoint(osp.join(dirs[name], f'iter_{ITERS}.pth'))['state_dict']
    assert actual.keys() == expected.keys()
    assert all(torch.equal(actual[key], expected[key]) for key in expected)  # bitwise
