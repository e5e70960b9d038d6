"""The study on a few iterations: local runs, printed commands collected, resumption, report."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import pytest

from asl_det.benchmark.glyphs import generate_glyph_detection
from asl_det.benchmark.study import (
    StudyPlan,
    StudySettings,
    collect_study,
    load_records,
    print_commands,
    record_path,
    run_study,
    write_record,
    write_study_report,
)
from asl_det.benchmark.study.interrupted_runs import (
    RUN_FILE,
    checkpoint_to_resume,
    mark_started,
)
from asl_det.benchmark.study.plan import (
    REPO_ROOT,
    ConditionData,
    Job,
    evaluation_points,
    set_schedule,
    work_dir,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'demo', 'retinanet_glyphs_focal.py')
TINY = {'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False, 'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False, 'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False, 'default_hooks.logger.interval': 1,
        # an untrained head scores below mmdet's 0.05: keep its boxes so COCO eval has results
        'model.test_cfg.score_thr': -1.0}


@pytest.fixture(scope='module')
def glyphs(tmp_path_factory):
    """A 12 + 6 image glyph data set, and the options that point the demo config at it."""
    data = generate_glyph_detection(str(tmp_path_factory.mktemp('glyphs')), num_train=12,
                                    num_val=6)
    options = dict(TINY)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = data['root'] + '/'
    options['val_evaluator.ann_file'] = data['val_ann']
    options['test_evaluator.ann_file'] = data['val_ann']
    return data, options


def tiny_settings(tmp_path, glyphs, **changes):
    values = dict(config_file=CONFIG, records_dir=str(tmp_path / 'records'),
                  work_root=str(tmp_path / 'work'), variants=['focal', 'asl_paper'], seeds=[0],
                  missing_fractions=[0.0, 0.5], max_iters=4, evaluations=2, workers=2,
                  cfg_options=glyphs[1])
    values.update(changes)
    return StudySettings(**values)


def fake_record(condition, variant, seed, **changes):
    record = dict(variant=variant, condition=condition, seed=seed, iterations=4,
                  config='retinanet_glyphs_focal.py', metrics=dict(bbox_mAP=0.1, bbox_mAP_50=0.2),
                  loss_cls={}, wall_time_s=1.0, versions={}, data_seed=0, max_epochs=None)
    record.update(changes)
    return record


#: Record keys that depend on where and when a run was trained, not on what it computed.
RUN_SPECIFIC = ('wall_time_s', 'train_time_s', 'finished', 'command', 'probabilities')


def test_a_few_iteration_study_records_every_run_then_resumes_without_training(tmp_path,
                                                                                glyphs):
    settings = tiny_settings(tmp_path, glyphs)
    lines = []
    records = run_study(settings, log=lines.append)
    assert sorted((r['condition'], r['variant']) for r in records) == [
        ('clean', 'asl_paper'), ('clean', 'focal'), ('missing50', 'asl_paper'),
        ('missing50', 'focal')]
    for r in records:
        assert osp.isfile(record_path(settings.records_dir, r['condition'], r['variant'], 0))
        assert r['iterations'] == 4 and 0 <= r['metrics']['bbox_mAP'] <= 1
        assert [point['iter'] for point in r['curve']] == [2, 4]  # the learning curve
        assert r['curve'][-1]['bbox_mAP'] == r['metrics']['bbox_mAP']
        assert set(r['per_class_ap']) and r['versions']['mmdet'] == '3.3.0'
        assert (r['config'], r['detector']) == ('retinanet_glyphs_focal.py', 'RetinaNet')
        expected = 'FocalLoss' if r['variant'] == 'focal' else 'AsymmetricLoss'
        assert r['loss_cls']['type'] == expected
        assert r['command'].startswith('OMP_NUM_THREADS=')
        # the command as it reads anywhere: no interpreter or checkout path of this machine
        assert ' python tools/train.py ' in r['command'] and REPO not in r['command']
        assert r['train_args'] == [] and r['skipped_images'] == []  # pre-flight ran, kept all
        log = osp.join(settings.work_root, r['condition'], f"{r['variant']}_seed0",
                       'console.log')
        assert 'Iter(train)' in open(log).read()
    # every run of a condition trained on the same labels, named by their content hash
    missing = [r for r in records if r['condition'] == 'missing50']
    assert len({json.dumps(r['data'], sort_keys=True) for r in missing}) == 1
    data = missing[0]['data']
    assert 0.3 < data['dropped_fraction'] < 0.7
    assert data['train_ann_file'].startswith(settings.records_dir)
    clean = [r for r in records if r['condition'] == 'clean'][0]['data']
    assert clean['train_ann_sha256'] != data['train_ann_sha256']
    assert clean['val_ann_sha256'] == data['val_ann_sha256']
    # the user's files were not touched
    val = json.load(open(glyphs[0]['val_ann']))
    assert 'missing_annotations' not in val.get('info', {})
    assert not any('missing' in name for name in os.listdir(osp.dirname(glyphs[0]['train_ann'])))
    # the console shows the study's own lines only
    assert all(line.startswith('[study]') for line in lines)
    assert sum('] start ' in line for line in lines) == 4
    assert sum('] done ' in line and 'to go' in line for line in lines) == 4

    again = []
    assert run_study(settings, log=again.append) == []
    assert any('4 recorded already, 0 to train' in line for line in again)
    # a finished run without its record (say, trained from --print-commands) is collected
    os.remove(record_path(settings.records_dir, 'clean', 'focal', 0))
    again = []
    (collected,) = run_study(settings, log=again.append)
    (first,) = [r for r in records if (r['condition'], r['variant']) == ('clean', 'focal')]
    assert json.dumps(collected['metrics']) == json.dumps(first['metrics'])
    assert any('collected clean focal seed 0: trained earlier' in line for line in again)
    assert not any('] start ' in line for line in again)
    paths = write_study_report(load_records(settings.records_dir), str(tmp_path / 'out'),
                               'python tools/study.py --report-only')
    report = open(paths['report']).read()
    assert report.startswith('# Study: does ASL help the RetinaNet? (retinanet_glyphs_focal.py)')
    assert '| clean | asl_paper | 1 |' in report and 'too few seeds' in report
    assert '## Learning curves' in report and osp.getsize(paths['curves']) > 0

    # the same grid printed as commands, run by a shell, then collected: the same records
    printed = tiny_settings(tmp_path, glyphs, records_dir=str(tmp_path / 'printed'),
                            work_root=str(tmp_path / 'work2'), variants=['asl_paper'],
                            missing_fractions=[0.5])
    commands = print_commands(printed, log=lambda line: None)
    assert len(commands) == 1
    # runs as printed, from anywhere: this checkout, this interpreter
    assert commands[0].startswith(f'cd {REPO} && OMP_NUM_THREADS=')
    assert f' {sys.executable} tools/train.py ' in commands[0]
    for command in commands:
        subprocess.run(command, shell=True, check=True, cwd=str(tmp_path),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    collected = collect_study(printed, log=lambda line: None)
    assert len(collected) == 1 and print_commands(printed, log=lambda line: None) == []
    (ours,), theirs = [r for r in missing if r['variant'] == 'asl_paper'], collected[0]
    assert set(ours) == set(theirs)
    for key in set(ours) - set(RUN_SPECIFIC) - {'data'}:  # as JSON: NaN (a class without AP)
        # (the missing-annotation split lives beside each records dir, and probes name it)
        assert json.dumps(ours[key], sort_keys=True).replace(settings.records_dir, 'RECORDS') \
            == json.dumps(theirs[key], sort_keys=True).replace(printed.records_dir, 'RECORDS')
    # the same labels, written beside the other records dir
    assert ours['data'] == dict(theirs['data'], train_ann_file=ours['data']['train_ann_file'])
    # a study with other options over the same work dirs does not take that run as its own
    other = tiny_settings(tmp_path, glyphs, records_dir=str(tmp_path / 'other'),
                          work_root=str(tmp_path / 'work2'), variants=['asl_paper'],
                          missing_fractions=[0.5],
                          cfg_options=dict(glyphs[1], **{'model.test_cfg.score_thr': -2.0}))
    lines = []
    assert collect_study(other, log=lines.append) == []
    assert 'not collected: missing50 asl_paper seed 0 (' in lines[-1]
    assert 'study_run.json names another run config or command' in lines[-1]
    # nor does printing its commands delete that finished run: it is left, and said
    lines = []
    assert print_commands(other, log=lines.append) == []
    assert any('skip missing50 asl_paper seed 0: the finished run' in line
               and 'left as it is' in line for line in lines)
    assert 'iter_4.pth' in os.listdir(work_dir(other, Job('missing50', 0.5, 'asl_paper', 0)))


def test_unfinished_work_dirs_are_not_collected(tmp_path, glyphs):
    settings = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0])
    print_commands(settings, log=lambda line: None)  # makes the work dir ready
    directory = osp.join(settings.work_root, 'clean', 'focal_seed0')
    with open(osp.join(directory, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(directory, 'iter_2.pth'))  # a checkpoint before the last iteration
    lines = []
    assert collect_study(settings, log=lines.append) == []
    assert 'not finished yet: clean focal seed 0' in lines[-1]


def test_only_runs_without_a_record_are_trained(tmp_path, glyphs):
    # a tuple option (as --cfg-options parses one) comes back from a record's JSON a list
    options = dict(glyphs[1], **{'optim_wrapper.optimizer.betas': (0.9, 0.999)})
    settings = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0],
                             seeds=[0, 1], cfg_options=options)
    from mmengine.config import Config
    plan = StudyPlan(settings, log=lambda line: None)
    data = plan.conditions['clean'].as_record()
    loss_cls = Config.fromfile(plan.config_paths[('clean', 'focal')]).model.bbox_head.loss_cls
    write_record(settings.records_dir, fake_record('clean', 'focal', 0, data=data,
                                                   loss_cls=loss_cls.to_dict(),
                                                   cfg_options=settings.cfg_options))
    assert [job.seed for job in StudyPlan(settings, log=lambda line: None).pending()] == [1]


@pytest.mark.parametrize('changes', [dict(iterations=5), dict(config='fcos_glyphs_focal.py'),
                                     dict(data_seed=1), dict(data='other labels'),
                                     dict(train_args=['--amp']), dict(cfg_options='other')])
def test_records_of_another_config_schedule_or_data_are_refused(tmp_path, glyphs, changes):
    from mmengine.config import Config
    settings = tiny_settings(tmp_path, glyphs, missing_fractions=[0.0])
    plan = StudyPlan(settings, log=lambda line: None)
    data = plan.conditions['clean'].as_record()
    if changes.get('data') == 'other labels':
        changes['data'] = dict(data, train_ann_sha256='0' * 64)
    if changes.get('cfg_options') == 'other':
        changes['cfg_options'] = dict(settings.cfg_options, **{'optim_wrapper.optimizer.lr': 0.5})
    loss_cls = Config.fromfile(plan.config_paths[('clean', 'focal')]).model.bbox_head.loss_cls
    write_record(settings.records_dir, fake_record('clean', 'focal', 0, **dict(
        dict(data=data, loss_cls=loss_cls.to_dict(), cfg_options=settings.cfg_options),
        **changes)))
    with pytest.raises(ValueError, match='use another records dir'):
        run_study(settings, log=lambda line: None)


def test_a_record_is_written_atomically_and_must_be_complete(tmp_path):
    path = write_record(str(tmp_path), fake_record('clean', 'focal', 3))
    assert path == record_path(str(tmp_path), 'clean', 'focal', 3)
    assert os.listdir(tmp_path / 'clean') == ['focal_seed3.json']
    with pytest.raises(ValueError, match='metrics'):
        write_record(str(tmp_path), dict(variant='focal', condition='clean', seed=0))


@pytest.mark.parametrize('changes,match', [
    (dict(variants=['focal', 'dice']), 'variants'), (dict(seeds=[]), r'seeds \(--seeds\)'),
    (dict(missing_fractions=[1.0]), r'missing_fractions \(--missing-fractions\)'),
    (dict(max_iters=0), r'max_iters \(--iters\)'),
    (dict(evaluations=0), r'evaluations \(--evaluations\)'),
    (dict(workers=0), r'workers \(--workers\)'), (dict(data_seed=-1), r'data_seed \(--data-seed\)'),
    (dict(device='tpu'), 'device'), (dict(train_args=['--resume']), 'train_args'),
    (dict(train_args='--amp'), 'train_args'),
    # repeated: two jobs would share a work dir and a record
    (dict(variants=['focal', 'asl_paper', 'focal']), 'variants must differ: focal given more '
                                                      'than once'),
    (dict(seeds=[0, 1, 0]), r'seeds \(--seeds\) must differ: 0 given more than once'),
    (dict(missing_fractions=[0.12, 0.125]), r"distinct conditions .* \['missing12', "
                                            r"'missing12'\]")])
def test_invalid_settings_name_the_parameter(tmp_path, glyphs, changes, match):
    with pytest.raises(ValueError, match=match):
        tiny_settings(tmp_path, glyphs, **changes).validate()


def test_a_config_without_focal_loss_is_refused(tmp_path, glyphs):
    config = osp.join(REPO, 'configs', 'demo', 'retinanet_glyphs_asl.py')
    with pytest.raises(ValueError, match='FocalLoss'):
        StudyPlan(tiny_settings(tmp_path, glyphs, config_file=config), log=lambda line: None)


def test_a_failing_run_is_reported_and_the_others_still_train(tmp_path, glyphs, monkeypatch):
    # asl_paper with an impossible argument: its tools/train.py exits non-zero
    options = dict(glyphs[1])
    settings = tiny_settings(tmp_path, glyphs, missing_fractions=[0.0], cfg_options=options)
    plan = StudyPlan(settings, log=lambda line: None)
    path = plan.config_paths[('clean', 'asl_paper')]
    with open(path, 'a') as f:
        f.write("\nmodel['bbox_head']['loss_cls']['clip'] = 7.0\n")
    from asl_det.benchmark.study import StudyRunsFailed, runner
    monkeypatch.setattr(runner, 'write_run_configs', lambda *args: plan.config_paths)
    lines = []
    with pytest.raises(StudyRunsFailed) as failed:
        run_study(settings, log=lines.append)
    assert len(failed.value.failures) == 1 and 'asl_paper' in failed.value.failures[0]
    assert sum('] FAILED ' in line and 'exited with' in line for line in lines) == 1
    assert [r['variant'] for r in load_records(settings.records_dir)] == ['focal']


def test_the_schedule_is_scaled_and_evaluated_as_asked():
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)  # 1600 iterations, decay at 1280 and 1520, warm-up 200
    set_schedule(cfg, max_iters=800, evaluations=8)
    assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (800, 100)
    assert cfg.param_scheduler[0].end == 200
    assert (cfg.param_scheduler[1].end, cfg.param_scheduler[1].milestones) == (800, [640, 760])
    assert cfg.default_hooks.checkpoint.interval == 100  # at every evaluation: resumable
    mmdet_style = Config.fromfile(CONFIG)
    mmdet_style.default_hooks.logger.log_metric_by_epoch = True  # LoggerHook's default
    set_schedule(mmdet_style, max_iters=800, evaluations=8)
    assert mmdet_style.default_hooks.logger.log_metric_by_epoch is False  # steps = iterations
    epoch_based = Config(dict(train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12)))
    with pytest.raises(ValueError, match='max_iters needs an IterBasedTrainLoop'):
        set_schedule(epoch_based, max_iters=100, evaluations=None)
    set_schedule(epoch_based, max_iters=None, evaluations=4)
    assert epoch_based.train_cfg.val_interval == 3
    with pytest.raises(ValueError, match=r"evaluations \(--evaluations\) must be at most the "
                                         r"schedule's 10 iterations, got 1000"):
        set_schedule(Config.fromfile(CONFIG), max_iters=10, evaluations=1000)
    # no val_interval and no logger: checkpoints at mmengine's default interval, the LoggerHook
    # mmengine would add logs validations at their iteration
    bare = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=2500),
                       default_hooks=dict(checkpoint=dict(type='CheckpointHook'))))
    set_schedule(bare, max_iters=None, evaluations=None)
    assert bare.default_hooks.checkpoint.interval == 1000
    assert bare.default_hooks.logger == dict(type='LoggerHook', log_metric_by_epoch=False)
    silent = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=100),
                         default_hooks=dict(logger=None)))
    set_schedule(silent, max_iters=None, evaluations=None)
    assert silent.default_hooks.logger is None  # switched off by the user: left so


@pytest.mark.parametrize('train_cfg,points', [
    (dict(type='IterBasedTrainLoop', max_iters=800, val_interval=100), list(range(100, 801, 100))),
    (dict(type='IterBasedTrainLoop', max_iters=2500), [1000, 2000, 2500]),  # mmengine's default
    (dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=5), [5, 10, 12]),
    (dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=2, val_begin=8), [8, 10, 12]),
    (dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=10,  # RTMDet's schedule
          dynamic_intervals=[(280, 1)]), list(range(10, 271, 10)) + list(range(279, 301))),
])
def test_evaluation_points_follow_the_train_loop(train_cfg, points):
    from mmengine.config import Config
    assert evaluation_points(Config(dict(train_cfg=train_cfg))) == points


@pytest.mark.parametrize('config,classifier', [
    ('retinanet_glyphs_focal.py', 'retina_cls'), ('fcos_glyphs_focal.py', 'conv_cls'),
    ('atss_glyphs_focal.py', 'atss_cls')])
def test_every_variant_builds_its_detector(tmp_path, glyphs, config, classifier):
    import torch
    from mmdet.registry import MODELS

    from asl_det.benchmark.study import VARIANTS, Job
    from asl_det.benchmark.study.plan import load_base_config, run_config
    settings = tiny_settings(tmp_path, glyphs, config_file=osp.join(osp.dirname(CONFIG), config))
    base = load_base_config(settings)
    for name, spec in VARIANTS.items():
        cfg = run_config(settings, base, Job('clean', 0.0, name, 0), data=None)
        assert cfg.model.bbox_head.loss_cls == spec['loss_cls']
        model = MODELS.build(cfg.model)
        model.init_weights()
        prior = torch.sigmoid(getattr(model.bbox_head, classifier).bias).mean().item()
        assert prior == pytest.approx(0.10 if 'prior10' in name else 0.01, rel=1e-4), name
        hooks = [h['type'] for h in cfg.custom_hooks]
        expected = 'AdaptiveAsymmetryHook' if 'adaptive' in name else 'ProbabilityStatisticsHook'
        assert hooks == [expected], name


def test_a_variant_hook_replaces_only_the_config_hooks_its_class_extends():
    import asl_det  # noqa: F401  (registers ASL's hooks)
    import asl_det.engine.hooks.channels_last_hook  # noqa: F401  (registers ChannelsLastHook)
    from asl_det.benchmark.study.plan import with_variant_hooks
    from asl_det.benchmark.study.variants import ADAPTIVE
    config_hooks = [dict(type='ProbabilityStatisticsHook'), dict(type='ChannelsLastHook'),
                    dict(type='EMAHook', momentum=2e-4)]
    merged = with_variant_hooks(config_hooks, [ADAPTIVE])
    # the adaptive hook computes the statistics itself (it subclasses the statistics hook)
    assert [h['type'] for h in merged] == ['ChannelsLastHook', 'EMAHook', 'AdaptiveAsymmetryHook']
    assert merged[-1] == ADAPTIVE and merged[-1] is not ADAPTIVE
    assert config_hooks[0] == dict(type='ProbabilityStatisticsHook')  # input left as it was
    # a variant hook unrelated to the config's keeps all of them
    kept = with_variant_hooks(config_hooks, [dict(type='ChannelsLastHook')])
    assert [h['type'] for h in kept] == ['ProbabilityStatisticsHook', 'EMAHook',
                                         'ChannelsLastHook']
    with pytest.raises(KeyError, match='NoSuchHook'):
        with_variant_hooks([dict(type='NoSuchHook')], [ADAPTIVE])


def test_an_adaptive_variant_keeps_the_configs_channels_last_hook(tmp_path, glyphs):
    import asl_det.engine.hooks.channels_last_hook  # noqa: F401  (registers ChannelsLastHook)
    from asl_det.benchmark.study import Job
    from asl_det.benchmark.study.plan import load_base_config, run_config
    base = load_base_config(tiny_settings(tmp_path, glyphs))
    base.custom_hooks = base.custom_hooks + [dict(type='ChannelsLastHook')]
    cfg = run_config(tiny_settings(tmp_path, glyphs), base,
                     Job('clean', 0.0, 'asl_paper_prior10_adaptive', 0), data=None)
    assert [h['type'] for h in cfg.custom_hooks] == ['ChannelsLastHook', 'AdaptiveAsymmetryHook']


# ------------------------------------------------------- work dirs in use, stopping runs

def test_a_work_dir_in_use_is_skipped_and_left_as_it_is(tmp_path, glyphs, monkeypatch):
    from asl_det.benchmark.study import runner
    from asl_det.launch.work_dir_lock import MARKER, hold_work_dir
    settings = tiny_settings(tmp_path, glyphs, missing_fractions=[0.0])
    started = []
    monkeypatch.setattr(runner, '_start', lambda *args: started.append(args))
    ours = osp.join(settings.work_root, 'clean', 'focal_seed0')
    cluster = osp.join(settings.work_root, 'clean', 'asl_paper_seed0')
    os.makedirs(cluster)
    with open(osp.join(cluster, MARKER), 'w') as f:  # a run on a cluster node
        json.dump(dict(pid=4242, host='node-17', started='2026-01-01T10:00:00'), f)
    lines = []
    with hold_work_dir(ours):  # a run of this machine, started by hand
        open(osp.join(ours, 'iter_100.pth'), 'w').close()
        assert run_study(settings, log=lines.append) == []
        assert sorted(os.listdir(ours)) == [MARKER, 'iter_100.pth']
    assert started == [] and load_records(settings.records_dir) == []
    assert osp.isfile(osp.join(cluster, MARKER))
    skips = [line for line in lines if '] skip ' in line]
    assert len(skips) == 2
    assert f'pid {os.getpid()} on ' in skips[0] and 'clean focal seed 0' in skips[0]
    assert 'pid 4242 on node-17' in skips[1] and '--collect' in skips[1]
    # a cluster run still evaluating (its last checkpoint saved) is not collected either
    with open(osp.join(cluster, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(cluster, 'iter_4.pth'))
    lines = []
    assert collect_study(settings, log=lines.append) == []
    assert 'not finished yet: clean focal seed 0, clean asl_paper seed 0' in lines[-1]


def test_a_stale_marker_is_cleared_and_the_run_trained_afresh(tmp_path, glyphs, monkeypatch):
    import socket

    from asl_det.benchmark.study import StudyRunsFailed, runner
    from asl_det.launch.work_dir_lock import MARKER
    settings = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0],
                             workers=1)
    directory = osp.join(settings.work_root, 'clean', 'focal_seed0')
    os.makedirs(directory)
    with open(osp.join(directory, MARKER), 'w') as f:  # its writer died without removing it
        json.dump(dict(pid=999999, host=socket.gethostname(), started='x'), f)
    open(osp.join(directory, 'iter_2.pth'), 'w').close()
    with open(osp.join(directory, RUN_FILE), 'w') as f:  # a study's run, of other options
        json.dump(dict(config_sha256='0' * 64, command='another', resumed_from=[]), f)
    monkeypatch.setattr(runner, 'POLL_S', 0.1)
    monkeypatch.setattr(runner, 'train_command',
                        lambda *args, **kwargs: [sys.executable, '-c', 'pass'])
    with pytest.raises(StudyRunsFailed, match='clean focal seed 0'):  # it trained nothing
        run_study(settings, log=lambda line: None)
    # cleared (another run's: not one the study can resume), then started
    assert sorted(os.listdir(directory)) == ['console.log', RUN_FILE]


GROUP = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])
print(child.pid, flush=True)
if sys.argv[1] == 'stubborn':
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(300)
"""


def alive(pid, wait_s=5.0):
    """Whether ``pid`` still runs after up to ``wait_s`` seconds (a signal takes a moment; a
    zombie waiting for its reaper counts as gone)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with open(f'/proc/{pid}/stat') as f:
                running = f.read().rsplit(')', 1)[1].split()[0] != 'Z'
        except FileNotFoundError:
            running = False
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


@pytest.mark.parametrize('kind', ['plain', 'stubborn'])
def test_stopping_a_run_ends_every_process_it_started(tmp_path, kind):
    """A run's data loader workers (or any child) go with it, also when the run itself
    ignores SIGTERM: the study kills its whole process group."""
    from asl_det.benchmark.study import runner
    with open(tmp_path / 'console.log', 'w+') as console:
        process = runner._start([sys.executable, '-c', GROUP, kind], console, dict(os.environ))
        for _ in range(100):
            console.seek(0)
            text = console.read()
            if text.endswith('\n'):
                break
            time.sleep(0.1)
        grandchild = int(text)
        assert os.getpgid(grandchild) == process.pid != os.getpgid(0)
        started = time.monotonic()
        runner._stop(process, grace_s=2.0)
        stopped_s = time.monotonic() - started
    assert process.returncode is not None and not alive(grandchild)
    assert stopped_s < (10 if kind == 'stubborn' else 2)


# ----------------------------------------------------------- options for tools/train.py

def test_train_args_the_study_sets_itself_are_refused():
    from asl_det.benchmark.study.plan import check_train_args
    assert check_train_args(('--skip-bad-images', '--amp')) == ['--skip-bad-images', '--amp']
    for bad in (['--work-dir', 'x'], ['--cfg-options=a=1'], ['--resume'], ['--launcher=slurm']):
        with pytest.raises(ValueError, match=f'train_args: {bad[0]} is set by the study'):
            check_train_args(bad)
    with pytest.raises(ValueError, match='list of strings'):
        check_train_args('--amp')


def test_a_study_with_a_truncated_image_trains_with_skip_bad_images(tmp_path, monkeypatch):
    """Without the option the run's pre-flight stops it; with it the run trains without the
    image, and its record names the image and the option."""
    data = generate_glyph_detection(str(tmp_path / 'glyphs'), num_train=8, num_val=4)
    bad = sorted(os.listdir(data['train_img_dir']))[1]
    with open(osp.join(data['train_img_dir'], bad), 'r+b') as f:
        f.truncate(300)
    options = dict(TINY)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = data['root'] + '/'
    options['val_evaluator.ann_file'] = data['val_ann']
    monkeypatch.setenv('ASL_DET_CACHE', str(tmp_path / 'cache'))
    settings = StudySettings(config_file=CONFIG, records_dir=str(tmp_path / 'records'),
                             work_root=str(tmp_path / 'work'), variants=['focal'], seeds=[0],
                             missing_fractions=[0.0], max_iters=2, evaluations=1, workers=1,
                             cfg_options=options)
    from asl_det.benchmark.study import StudyRunsFailed
    with pytest.raises(StudyRunsFailed, match='exited with 1'):
        run_study(settings, log=lambda line: None)
    console = open(osp.join(settings.work_root, 'clean', 'focal_seed0', 'console.log')).read()
    assert 'pre-flight check failed' in console and bad in console
    assert 'Traceback' not in console

    settings.train_args = ('--skip-bad-images',)
    (record,) = run_study(settings, log=lambda line: None)
    assert record['train_args'] == ['--skip-bad-images']
    assert ' --skip-bad-images --cfg-options randomness.seed=0' in record['command']
    (skipped,) = record['skipped_images']
    assert (skipped['dataset'], skipped['file_name']) == ('train_dataloader.dataset', bad)
    assert osp.samefile(skipped['ann_file'], data['train_ann'])
    (stored,) = load_records(settings.records_dir)
    assert (stored['train_args'], stored['skipped_images']) == (['--skip-bad-images'], [skipped])
    # the printed commands pass it on too
    printed = tiny_settings(tmp_path, (data, options), variants=['asl_paper'],
                            missing_fractions=[0.0], records_dir=str(tmp_path / 'printed'),
                            train_args=['--skip-bad-images'])
    lines = print_commands(printed, log=lambda line: None)
    assert len(lines) == 1 and ' --skip-bad-images --cfg-options ' in lines[0]


def test_a_record_names_annotation_files_inside_the_checkout_relative_to_it(tmp_path):
    inside = osp.join(REPO_ROOT, 'data', 'x', 'train.json')
    outside = str(tmp_path / 'val.json')
    record = ConditionData(inside, 'a' * 64, outside, 'b' * 64, 0.5).as_record()
    assert record == dict(train_ann_file=osp.join('data', 'x', 'train.json'),
                          train_ann_sha256='a' * 64, val_ann_file=outside,
                          val_ann_sha256='b' * 64, dropped_fraction=0.5)


def test_a_records_probe_config_names_its_files_as_the_record_does(tmp_path):
    from asl_det.benchmark.study.runner import unlabelled_anchor_record
    from asl_det.engine.hooks.unlabelled_anchor_probability_hook import OUT_FILE
    inside = osp.join(REPO_ROOT, 'data', 'x', 'train.json')
    config = dict(full_ann_file=inside, train_ann_file=str(tmp_path / 'train_missing50.json'),
                  image_ids=[1, 2], pos_iou_thr=0.5)
    with open(tmp_path / OUT_FILE, 'w') as f:
        json.dump(dict(config=config, evaluations=[]), f)
    assert unlabelled_anchor_record(str(tmp_path))['config'] == dict(
        full_ann_file=osp.join('data', 'x', 'train.json'),
        train_ann_file=str(tmp_path / 'train_missing50.json'), pos_iou_thr=0.5)
    assert unlabelled_anchor_record(str(tmp_path / 'nothing')) is None


def test_a_records_hooks_name_their_files_as_the_record_does(tmp_path):
    from asl_det.benchmark.study.runner import recorded_hooks
    inside = osp.join(REPO_ROOT, 'data', 'x', 'train.json')
    hooks = [dict(type='ChannelsLastHook'),
             dict(type='UnlabelledAnchorProbabilityHook', full_ann_file=inside),
             dict(type='UnlabelledAnchorProbabilityHook', full_ann_file=str(tmp_path / 'a.json'))]
    probe = 'UnlabelledAnchorProbabilityHook'
    assert recorded_hooks(hooks) == [
        dict(type='ChannelsLastHook'),
        dict(type=probe, full_ann_file=osp.join('data', 'x', 'train.json')),
        dict(type=probe, full_ann_file=str(tmp_path / 'a.json'))]
    assert hooks[1]['full_ann_file'] == inside  # the run's config is left as it was


def stopping_options(glyphs, marker):
    """The glyph options with reliability_hooks' ExitHook: the run exits before iteration 3
    (after the checkpoint and evaluation of iteration 2) unless ``marker`` exists."""
    imports = ['asl_det', 'asl_det.datasets.glyph_dataset', 'reliability_hooks']
    return dict(glyphs[1], custom_imports=dict(imports=imports, allow_failed_imports=False),
                custom_hooks=[dict(type='ExitHook', at_iter=3, marker=str(marker))])


def test_an_interrupted_run_resumes_from_its_last_evaluation_and_ends_as_if_uninterrupted(
        tmp_path, glyphs, monkeypatch):
    """A missing50 run (with the unlabelled-anchor probe) stopped before iteration 3 and
    resumed: metrics, curve, probe series and final weights as trained in one go."""
    import torch

    from asl_det.benchmark.study import StudyRunsFailed
    from asl_det.checkpoint import load_checkpoint_file
    hooks = osp.join(REPO, 'tests', 'test_reliability')
    monkeypatch.syspath_prepend(hooks)  # the study builds the run configs here, the runs there
    monkeypatch.setenv('PYTHONPATH', hooks + os.pathsep + os.environ.get('PYTHONPATH', ''))
    marker = tmp_path / 'exited'
    options = stopping_options(glyphs, marker)
    settings = {name: tiny_settings(tmp_path, glyphs, variants=['asl_paper'],
                                    missing_fractions=[0.5], workers=1, cfg_options=options,
                                    records_dir=str(tmp_path / name / 'records'),
                                    work_root=str(tmp_path / name / 'work'))
                for name in ('whole', 'interrupted')}
    job = Job('missing50', 0.5, 'asl_paper', 0)
    marker.touch()  # the hook does nothing: trained in one go
    (whole,) = run_study(settings['whole'], log=lambda line: None)
    assert whole['resumed_from'] == []

    marker.unlink()
    lines = []
    with pytest.raises(StudyRunsFailed, match='exited with 3'):
        run_study(settings['interrupted'], log=lines.append)
    directory = work_dir(settings['interrupted'], job)
    assert 'iter_2.pth' in os.listdir(directory) and 'iter_4.pth' not in os.listdir(directory)
    lines = []
    (resumed,) = run_study(settings['interrupted'], log=lines.append)
    assert any('start 1/1: missing50 asl_paper seed 0 (resumed from iter_2.pth)' in line
               for line in lines)
    assert resumed['resumed_from'] == ['iter_2.pth']
    assert [point['iter'] for point in resumed['curve']] == [2, 4]
    assert json.dumps(resumed['curve']) == json.dumps(whole['curve'])
    assert json.dumps(resumed['metrics']) == json.dumps(whole['metrics'])
    # the unlabelled-anchor probe too: the first sitting's evaluation kept, the second's added
    assert resumed['unlabelled_anchors']['iters'] == [2, 4]
    assert json.dumps(resumed['unlabelled_anchors']).replace('/interrupted/', '/whole/') \
        == json.dumps(whole['unlabelled_anchors'])
    # the run's command, not the resuming one
    assert resumed['command'] == whole['command'].replace('/whole/', '/interrupted/')
    states = [load_checkpoint_file(osp.join(work_dir(settings[name], job), 'iter_4.pth'),
                                   map_location='cpu')['state_dict'] for name in settings]
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])  # bitwise

    # a run stopped after its final checkpoint, before its final evaluation, is not collected
    # with the evaluation before it: it resumes from that checkpoint, which runs the evaluation
    (scalars,) = glob.glob(osp.join(work_dir(settings['whole'], job), '*', 'vis_data',
                                    'scalars.json'))
    with open(scalars) as f:
        kept = [line for line in f if 'coco/bbox_mAP' not in line or '"step": 2' in line]
    with open(scalars, 'w') as f:
        f.writelines(kept)
    os.remove(record_path(settings['whole'].records_dir, 'missing50', 'asl_paper', 0))
    lines = []
    (again,) = run_study(settings['whole'], log=lines.append)
    assert any('lacks its final evaluation: resumed from its final checkpoint' in line
               for line in lines)
    assert again['resumed_from'] == ['iter_4.pth']
    assert json.dumps(again['curve']) == json.dumps(whole['curve'])
    assert json.dumps(again['metrics']) == json.dumps(whole['metrics'])
    assert again['unlabelled_anchors']['iters'] == [2, 4]


def test_only_the_same_run_is_resumed(tmp_path, glyphs):
    import torch
    settings = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0])
    StudyPlan(settings, log=lambda line: None)  # writes the run configs
    job = Job('clean', 0.0, 'focal', 0)
    directory = work_dir(settings, job)
    os.makedirs(directory)
    for name in ('iter_2.pth', 'iter_4.pth'):
        torch.save(dict(meta=dict(iter=int(name[5]))), osp.join(directory, name))
    with open(osp.join(directory, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(directory, 'iter_2.pth'))
    assert checkpoint_to_resume(settings, job) is None  # not started by a study
    mark_started(settings, job)
    assert checkpoint_to_resume(settings, job) == osp.join(directory, 'iter_2.pth')
    mark_started(settings, job, checkpoint=osp.join(directory, 'iter_2.pth'))
    with open(osp.join(directory, RUN_FILE)) as f:
        assert json.load(f)['resumed_from'] == ['iter_2.pth']
    # the final checkpoint too: resuming from it runs a final evaluation it lacks
    with open(osp.join(directory, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(directory, 'iter_4.pth'))
    assert checkpoint_to_resume(settings, job) == osp.join(directory, 'iter_4.pth')
    # the run config changed since: not resumed
    other = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0],
                          cfg_options=dict(glyphs[1], **{'model.test_cfg.score_thr': -2.0}))
    StudyPlan(other, log=lambda line: None)
    assert checkpoint_to_resume(other, job) is None


def fake_finished_run(settings, job, validations, iters=4, log_every=1):
    """A work dir whose final checkpoint is saved and whose log holds train lines up to
    ``iters`` (every ``log_every``-th iteration, as LoggerHook's interval logs them) and a
    validation after each iteration of ``validations`` (logged at its iteration)."""
    import torch
    directory = work_dir(settings, job)
    os.makedirs(osp.join(directory, '20260101_000000', 'vis_data'))
    torch.save(dict(meta=dict(iter=iters)), osp.join(directory, f'iter_{iters}.pth'))
    with open(osp.join(directory, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(directory, f'iter_{iters}.pth'))
    with open(osp.join(directory, '20260101_000000', 'vis_data', 'scalars.json'), 'w') as f:
        for iteration in range(1, iters + 1):
            if iteration % log_every == 0:
                f.write(json.dumps(dict(lr=0.01, loss=1.0, iter=iteration, step=iteration))
                        + '\n')
            if iteration in validations:
                f.write(json.dumps({'coco/bbox_mAP': 0.1 * iteration, 'step': iteration}) + '\n')
    mark_started(settings, job)
    return directory


def test_a_finished_run_missing_an_evaluation_is_not_collected(tmp_path, glyphs):
    """Evaluations at 2 and 4 (4 iterations, 2 evaluations): without the one at 2 the run is
    trained afresh (its checkpoint is gone); without the final one it resumes from the final
    checkpoint (for --print-commands too)."""
    from asl_det.benchmark.study.runner import MissingEvaluations
    settings = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0])
    job = Job('clean', 0.0, 'focal', 0)
    plan = StudyPlan(settings, log=lambda line: None)
    directory = fake_finished_run(settings, job, validations=[4])
    with pytest.raises(MissingEvaluations, match=r'0 of the 1 evaluations before the final one '
                       r'are logged \(at iterations 4; missing: 2\)') as caught:
        plan.collect(job)
    assert not caught.value.only_final
    lines = []
    assert plan.prepare_work_dir(job, [], log=lines.append) == (True, None)
    assert any('cannot be collected' in line and 'training it again' in line for line in lines)
    assert os.listdir(directory) == [RUN_FILE]  # emptied

    shutil.rmtree(directory)
    directory = fake_finished_run(settings, job, validations=[2])
    with pytest.raises(MissingEvaluations, match='the last evaluation is at iteration 2, '
                       'the schedule ends at 4') as caught:
        plan.collect(job)
    assert caught.value.only_final
    checkpoint = osp.join(directory, 'iter_4.pth')
    assert plan.prepare_work_dir(job, [], log=lines.append,
                                 retrain_uncollectable=False) == (True, checkpoint)
    (line,) = print_commands(settings, log=lambda line: None)
    assert f' --resume {checkpoint} ' in line

    shutil.rmtree(directory)
    fake_finished_run(settings, job, validations=[2, 4])
    assert plan.collect(job)['curve'] == [dict(iter=2, bbox_mAP=0.2, bbox_mAP_50=None),
                                          dict(iter=4, bbox_mAP=0.4, bbox_mAP_50=None)]


def test_evaluations_are_placed_at_their_iteration_not_the_last_logged_one(tmp_path, glyphs):
    """A logging interval that the schedule is no multiple of (train lines at iteration 3 of 4
    only): the record's schedule and curve are the validations' iterations, and the run is
    complete."""
    settings = tiny_settings(tmp_path, glyphs, variants=['focal'], missing_fractions=[0.0])
    job = Job('clean', 0.0, 'focal', 0)
    plan = StudyPlan(settings, log=lambda line: None)
    fake_finished_run(settings, job, validations=[2, 4], log_every=3)
    record = plan.collect(job)
    assert record['iterations'] == 4
    assert [point['iter'] for point in record['curve']] == [2, 4]


def test_printed_commands_resume_a_stopped_run_and_leave_busy_work_dirs_alone(tmp_path, glyphs):
    """--print-commands prepares each work dir as run_study does: the same run stopped
    part-way gets --resume, a work dir of another run config is emptied for a fresh line, one
    in use is skipped, one that no study trained in is refused, not emptied."""
    import torch

    from asl_det.launch.work_dir_lock import hold_work_dir
    settings = tiny_settings(tmp_path, glyphs, variants=['focal', 'asl_paper'],
                             missing_fractions=[0.0])
    StudyPlan(settings, log=lambda line: None)
    focal, asl = Job('clean', 0.0, 'focal', 0), Job('clean', 0.0, 'asl_paper', 0)
    for job in (focal, asl):
        directory = work_dir(settings, job)
        os.makedirs(directory)
        torch.save(dict(meta=dict(iter=2)), osp.join(directory, 'iter_2.pth'))
        with open(osp.join(directory, 'last_checkpoint'), 'w') as f:
            f.write(osp.join(directory, 'iter_2.pth'))
    mark_started(settings, focal)  # focal: started by this study; asl_paper: by no study
    lines = []
    assert len(print_commands(settings, log=lines.append)) == 1  # focal's alone
    assert any(f'skip clean asl_paper seed 0: {work_dir(settings, asl)} holds files but no '
               f'{RUN_FILE}, so no study trained there; it is not emptied' in line
               for line in lines)
    assert osp.isfile(osp.join(work_dir(settings, asl), 'iter_2.pth'))
    with open(osp.join(work_dir(settings, asl), RUN_FILE), 'w') as f:  # another study's run
        json.dump(dict(config_sha256='0' * 64, command='another', resumed_from=[]), f)
    first, second = print_commands(settings, log=lambda line: None)
    checkpoint = osp.join(work_dir(settings, focal), 'iter_2.pth')
    assert first.endswith(f' --resume {checkpoint} --cfg-options randomness.seed=0')
    assert ' --resume ' not in second
    assert os.listdir(work_dir(settings, asl)) == [RUN_FILE]  # emptied, marked as started
    for _ in range(2):  # printed twice: the resume is listed once
        print_commands(settings, log=lambda line: None)
    with open(osp.join(work_dir(settings, focal), RUN_FILE)) as f:
        assert json.load(f)['resumed_from'] == ['iter_2.pth']
    lines = []
    with hold_work_dir(work_dir(settings, focal)):
        assert print_commands(settings, log=lines.append) == [second]
    assert any('skip clean focal seed 0: its work dir is in use' in line for line in lines)
    assert osp.isfile(checkpoint)


def test_a_records_init_cfg_is_plain_also_as_a_list():
    """NAS-FCOS's init_cfg is a list of init dicts (a prior= variant writes one)."""
    from mmengine.config import Config

    from asl_det.benchmark.study.runner import plain_init_cfg
    one = dict(type='Normal', override=dict(name='conv_cls', bias_prob=0.1))
    head = Config(dict(a=dict(init_cfg=one), b=dict(init_cfg=[dict(type='Xavier'), one]), c={}))
    assert plain_init_cfg(head.a.get('init_cfg')) == one
    assert plain_init_cfg(head.b.get('init_cfg')) == [dict(type='Xavier'), one]
    assert json.dumps(plain_init_cfg(head.b.get('init_cfg')))  # a record is JSON
    assert plain_init_cfg(head.c.get('init_cfg')) is None
