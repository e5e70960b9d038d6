"""The study end to end on a few iterations: records, resumption, quiet console, report."""
import json
import os
import os.path as osp

import pytest

from asl_det.benchmark.study import (
    StudySettings,
    load_records,
    record_path,
    run_study,
    write_record,
    write_study_report,
)

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'demo',
                  'retinanet_glyphs_focal.py')
TINY = {'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False, 'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False, 'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False, 'default_hooks.logger.interval': 1,
        # an untrained head scores below mmdet's 0.05: keep its boxes so COCO eval has results
        'model.test_cfg.score_thr': -1.0}


def tiny_settings(tmp_path, **changes):
    values = dict(config_file=CONFIG, records_dir=str(tmp_path / 'records'),
                  work_root=str(tmp_path / 'work'), data_root=str(tmp_path / 'data'),
                  variants=['focal', 'asl_paper'], seeds=[0], missing_fractions=[0.0, 0.5],
                  max_iters=2, num_train=12, num_val=6, workers=2, cfg_options=TINY)
    values.update(changes)
    return StudySettings(**values)


def fake_record(condition, variant, seed, iterations=2, num_train=12,
                config='retinanet_glyphs_focal.py'):
    return dict(variant=variant, condition=condition, seed=seed, iterations=iterations,
                config=config,
                metrics=dict(bbox_mAP=0.1, bbox_mAP_50=0.2), loss_cls={}, wall_time_s=1.0,
                versions={}, num_train=num_train, num_val=6, data_seed=0)


def test_a_few_iteration_study_records_every_run_then_resumes_without_training(tmp_path):
    settings = tiny_settings(tmp_path)
    lines = []
    records = run_study(settings, log=lines.append)
    assert sorted((r['condition'], r['variant']) for r in records) == [
        ('clean', 'asl_paper'), ('clean', 'focal'), ('missing50', 'asl_paper'),
        ('missing50', 'focal')]
    for r in records:
        assert osp.isfile(record_path(settings.records_dir, r['condition'], r['variant'], 0))
        assert r['iterations'] == 2 and 0 <= r['metrics']['bbox_mAP'] <= 1
        assert r['versions']['mmdet'] == '3.3.0'
        assert (r['config'], r['detector']) == ('retinanet_glyphs_focal.py', 'RetinaNet')
        # the resolved loss of the run, and its work dir kept the raw logs
        expected = 'FocalLoss' if r['variant'] == 'focal' else 'AsymmetricLoss'
        assert r['loss_cls']['type'] == expected
        log = osp.join(settings.work_root, r['condition'], f"{r['variant']}_seed0",
                       'console.log')
        assert 'Iter(train)' in open(log).read()
    missing = [r for r in records if r['condition'] == 'missing50']
    assert {r['dropped_fraction'] for r in missing} == {missing[0]['dropped_fraction']}
    assert 0.3 < missing[0]['dropped_fraction'] < 0.7
    # the console shows the study's own lines only: starts, ends with ETA
    assert all(line.startswith('[study]') for line in lines)
    assert sum('] start ' in line for line in lines) == 4
    assert sum('] done ' in line and 'to go' in line for line in lines) == 4
    # the split used the complete val set: its annotation file was not touched
    val = json.load(open(osp.join(settings.data_root, 'annotations', 'instances_val.json')))
    assert 'missing_annotations' not in val.get('info', {})

    again = []
    assert run_study(settings, log=again.append) == []
    assert any('4 recorded already, 0 to train' in line for line in again)
    paths = write_study_report(load_records(settings.records_dir), str(tmp_path / 'out'),
                               'python tools/study.py --report-only', min_seeds=1)
    report = open(paths['report']).read()
    assert report.startswith('# Study: does ASL help the glyph RetinaNet?')
    assert '| clean | asl_paper | 0 |' in report
    assert osp.getsize(paths['plot']) > 0


def test_only_runs_without_a_record_are_trained(tmp_path):
    settings = tiny_settings(tmp_path, variants=['focal'], missing_fractions=[0.0], seeds=[0, 1])
    write_record(settings.records_dir, fake_record('clean', 'focal', 0))
    lines = []
    records = run_study(settings, log=lines.append)
    assert [(r['variant'], r['seed']) for r in records] == [('focal', 1)]
    assert any('1 recorded already, 1 to train' in line for line in lines)
    # the pre-existing record was left as it was
    assert load_records(settings.records_dir)[0]['wall_time_s'] == 1.0


@pytest.mark.parametrize('changes', [dict(iterations=5), dict(num_train=99),
                                     dict(config='fcos_glyphs_focal.py')])
def test_records_of_another_schedule_are_refused(tmp_path, changes):
    settings = tiny_settings(tmp_path)
    write_record(settings.records_dir, fake_record('clean', 'focal', 0, **changes))
    with pytest.raises(ValueError, match='use another records dir'):
        run_study(settings, log=lambda line: None)


def test_a_record_is_written_atomically_and_must_be_complete(tmp_path):
    path = write_record(str(tmp_path), fake_record('clean', 'focal', 3))
    assert path == record_path(str(tmp_path), 'clean', 'focal', 3)
    assert os.listdir(tmp_path / 'clean') == ['focal_seed3.json']
    with pytest.raises(ValueError, match='metrics'):
        write_record(str(tmp_path), dict(variant='focal', condition='clean', seed=0))


@pytest.mark.parametrize('changes,match', [
    (dict(variants=['focal', 'dice']), 'variants'), (dict(seeds=[]), 'seeds'),
    (dict(missing_fractions=[1.0]), 'missing_fractions'), (dict(max_iters=0), 'max_iters'),
    (dict(workers=0), 'workers'), (dict(device='tpu'), 'device')])
def test_invalid_settings_name_the_parameter(tmp_path, changes, match):
    with pytest.raises(ValueError, match=match):
        tiny_settings(tmp_path, **changes).validate()


def test_a_failing_run_is_reported_and_the_others_still_train(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from asl_det.benchmark.study import StudyRunsFailed, runner

    def fake_train_and_record(settings, job, data, split, num_threads):
        condition, _, variant, seed = job
        if variant == 'asl_paper':
            raise KeyError('type')
        record = fake_record(condition, variant, seed)
        write_record(settings.records_dir, record)
        return record

    monkeypatch.setattr(runner, 'quiet_worker_pool', ThreadPoolExecutor)
    monkeypatch.setattr(runner, 'train_and_record', fake_train_and_record)
    settings = tiny_settings(tmp_path, seeds=[0, 1])
    lines = []
    with pytest.raises(StudyRunsFailed) as failed:
        run_study(settings, log=lines.append)
    assert len(failed.value.failures) == 4 and all('asl_paper' in f for f in failed.value.failures)
    assert sum('] FAILED ' in line and "KeyError: 'type'" in line for line in lines) == 4
    assert {(r['condition'], r['variant']) for r in load_records(settings.records_dir)} == {
        ('clean', 'focal'), ('missing50', 'focal')}


@pytest.mark.parametrize('config,classifier', [
    ('retinanet_glyphs_focal.py', 'retina_cls'), ('fcos_glyphs_focal.py', 'conv_cls'),
    ('atss_glyphs_focal.py', 'atss_cls')])
def test_every_variant_builds_its_detector(tmp_path, config, classifier):
    import torch
    from mmdet.registry import MODELS

    from asl_det.benchmark.study import VARIANTS, runner
    settings = tiny_settings(tmp_path, config_file=osp.join(osp.dirname(CONFIG), config))
    data = dict(root=str(tmp_path), val_ann=str(tmp_path / 'val.json'))
    for name, spec in VARIANTS.items():
        cfg = runner.run_config(settings, 'clean', name, 0, data, None)
        assert cfg.model.bbox_head.loss_cls == spec['loss_cls']
        model = MODELS.build(cfg.model)
        model.init_weights()
        prior = torch.sigmoid(getattr(model.bbox_head, classifier).bias).mean().item()
        assert prior == pytest.approx(0.10 if 'prior10' in name else 0.01, rel=1e-4), name
        hooks = [h['type'] for h in cfg.custom_hooks]
        expected = 'AdaptiveAsymmetryHook' if 'adaptive' in name else 'ProbabilityStatisticsHook'
        assert hooks == [expected], name
