"""The study measures where unlabelled objects sit in missing-annotation runs: the probe hook in
their run configs (not in clean ones, not for assigners it cannot read), the records' series in
the report's table and plot."""
import os.path as osp

from asl_det.benchmark.study import StudySettings, write_study_report
from asl_det.benchmark.study.plan import (
    PROBE_HOOK,
    PROBE_MODULE,
    Job,
    add_unlabelled_anchor_probe,
    load_base_config,
    prepare_conditions,
    run_config,
)
from asl_det.benchmark.study.unlabelled_anchors import last_evaluation_table

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'demo', 'retinanet_glyphs_focal.py')


def test_missing_annotation_runs_get_the_probe_with_the_complete_train_labels(tmp_path):
    from asl_det.benchmark.glyphs import generate_glyph_detection
    data = generate_glyph_detection(str(tmp_path / 'glyphs'), num_train=4, num_val=2)
    options = {f'{loader}.dataset.data_root': data['root'] + '/'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    options['val_evaluator.ann_file'] = data['val_ann']
    settings = StudySettings(config_file=CONFIG, records_dir=str(tmp_path / 'records'),
                             work_root=str(tmp_path / 'work'), variants=['focal'], seeds=[0],
                             missing_fractions=[0.0, 0.5], cfg_options=options)
    base = load_base_config(settings)
    conditions = prepare_conditions(settings, base, log=lambda line: None)
    missing = run_config(settings, base, Job('missing50', 0.5, 'focal', 0),
                         conditions['missing50'])
    probes = [h for h in missing.custom_hooks if h['type'] == PROBE_HOOK]
    assert len(probes) == 1 and probes[0]['full_ann_file'] == osp.abspath(data['train_ann'])
    assert PROBE_MODULE in missing.custom_imports['imports']
    assert 'asl_det' in missing.custom_imports['imports']
    assert missing.train_dataloader.dataset.ann_file == conditions['missing50'].train_ann_file
    clean = run_config(settings, base, Job('clean', 0.0, 'focal', 0), conditions['clean'])
    assert not [h for h in clean.custom_hooks if h['type'] == PROBE_HOOK]
    base.model.train_cfg.assigner = dict(type='ATSSAssigner', topk=9)
    assert not add_unlabelled_anchor_probe(base, data['train_ann'])


def probe(p50, background_p99, iters=(10, 20)):
    series = {'unlabelled_p25': [p50 - 0.1] * 2, 'unlabelled_p50': [p50 / 2, p50],
              'unlabelled_p75': [p50 + 0.1] * 2, 'unlabelled_p90': [p50 + 0.2] * 2,
              'background_p99': [background_p99] * 2, 'unlabelled_above_0.5': [0.1, 0.2],
              'background_above_0.5': [0.0, 0.001], 'separating_threshold': [0.2, 0.3]}
    return dict(iters=list(iters), series=series, config={})


def record(variant, seed, ap, unlabelled=None):
    return dict(variant=variant, condition='missing50', seed=seed, iterations=20,
                metrics=dict(bbox_mAP=ap, bbox_mAP_50=ap), device='cpu', threads=1,
                versions=dict(torch='x'), detector='RetinaNet', config='r.py', loss_cls={},
                wall_time_s=1.0, unlabelled_anchors=unlabelled)


def test_the_report_shows_the_last_evaluation_and_plots_the_series(tmp_path):
    records = [record('focal', s, 0.3 + s / 100, probe(0.2 + s / 10, 0.05)) for s in range(2)]
    records += [record('asl_paper', s, 0.3, probe(0.5, 0.1)) for s in range(2)]
    table = last_evaluation_table(records, ['focal', 'asl_paper'])
    rows = table.splitlines()
    assert rows[2].startswith('| missing50 | focal | 2 | 0.150 | 0.250 | 0.350 | 0.450 | 0.050 |')
    assert rows[3].startswith('| missing50 | asl_paper | 2 | 0.400 | 0.500 |')
    paths = write_study_report(records, str(tmp_path), 'cmd', primary=('asl_paper',))
    assert osp.isfile(paths['unlabelled_anchors'])
    with open(paths['report']) as f:
        text = f.read()
    assert '## Where the unlabelled objects sit' in text and table in text
    no_probe = [record('focal', s, 0.3) for s in range(2)]
    assert last_evaluation_table(no_probe, ['focal']) is None
    assert 'unlabelled_anchors' not in write_study_report(no_probe, str(tmp_path / 'b'), 'cmd')


