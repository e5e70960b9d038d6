"""The main job end to end on a few iterations: data, two trainings, table, plots, report."""
import os.path as osp

import pytest

from asl_det.benchmark.comparison import ComparisonSettings, run_comparison

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'demo')


def read(path):
    with open(path) as f:
        return f.read()


def test_demo_pipeline_produces_table_plots_and_report(tmp_path, capfd):
    lines = []
    settings = ComparisonSettings(
        configs_dir=CONFIGS, work_root=str(tmp_path / 'demo'), data_root=str(tmp_path / 'data'),
        max_iters=4, val_interval=2, num_train=16, num_val=8, workers=2,
        cfg_options={'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
                     'train_dataloader.persistent_workers': False,
                     'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False,
                     'test_dataloader.num_workers': 0,
                     'test_dataloader.persistent_workers': False})
    paths = run_comparison(settings, log=lines.append)
    for key in ('report', 'map_plot', 'probability_plot'):
        assert osp.getsize(paths[key]) > 0
    report = read(paths['report'])
    assert '| focal_seed0 |' in report and '| asl_seed0 |' in report
    assert 'candidates / image' in report and '| asl_seed0 | shifted |' in report
    assert any(line.startswith('[demo] training asl') for line in lines)
    # each run wrote its own scalars and kept mmengine's console output in its work dir;
    # none of it (config dumps, iteration logs) reached the demo's own output
    for run in ('focal_seed0', 'asl_seed0'):
        console = read(osp.join(settings.work_root, run, 'console.log'))
        assert 'Config:' in console and 'Iter(val)' in console
    assert not any('mmengine - INFO' in line or 'Config:' in line for line in lines)
    # the inference profile's runner logs into the run's work dir too, not on the terminal
    profile_log = read(osp.join(settings.work_root, 'asl_seed0', 'inference_profile.log'))
    assert 'mmengine - INFO' in profile_log
    terminal = capfd.readouterr()
    assert 'mmengine - INFO' not in terminal.out + terminal.err
    assert 'System environment' not in terminal.out + terminal.err


@pytest.mark.parametrize('change,match', [
    (dict(variants=('focal', 'dice')), 'variants'), (dict(max_iters=0), 'max_iters'),
    (dict(val_interval=10, max_iters=5), 'val_interval'), (dict(seeds=()), 'seeds'),
    (dict(device='tpu'), 'device'), (dict(workers=0), 'workers'),
    (dict(seeds=(0, 0)), 'seeds must differ'), (dict(seeds=(-1, )), r'seeds must be .*\[0'),
    (dict(variants=('focal', 'focal')), 'variants must differ')])
def test_invalid_settings(change, match):
    settings = ComparisonSettings(configs_dir=CONFIGS, **change)
    with pytest.raises(ValueError, match=match):
        settings.validate()
