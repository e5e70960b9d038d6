"""User-defined study variants: from the command line, from a file, checked, recorded, and a
name reused for another setting refused at resume."""
import json
import os.path as osp
import runpy

import pytest
from mmengine.config import Config

from asl_det.benchmark.study import StudyPlan, StudySettings, record_path, write_record
from asl_det.benchmark.study.plan import Job, run_config_path
from asl_det.benchmark.study.variants import (
    ASL,
    VARIANTS,
    load_variant_file,
    parse_variant,
    variant_config,
)
from asl_det.models.losses.asymmetric_loss import ASL_DEFAULTS

STUDY_TOOL = runpy.run_path(osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__))))), 'tools', 'study.py'))
parse_args, settings_of = STUDY_TOOL['parse_args'], STUDY_TOOL['settings_of']
defined_variants = STUDY_TOOL['defined_variants']


@pytest.mark.parametrize('assignments,match', [
    (['reject_above=1.5'], r'variant bad: loss_cls .* cannot be built: reject_above must be None '
                           r'\(off\) or in \(0, 1\), got 1\.5'),
    (['gama_neg=3'], "cannot be built: .*unexpected keyword argument 'gama_neg'"),
    (['type=FocalLoss', 'gamma=2', 'alfa=0.3'], "unexpected keyword argument 'alfa'"),
    # mmdet's FocalLoss checks none of its arguments; the variant's are
    (['type=FocalLoss', 'gamma=-1'], r'cannot be built: gamma must be in \[0\.0, inf\]'),
    (['type=FocalLoss', 'alpha=5'], r'cannot be built: alpha must be in \[0\.0, 1\.0\]')])
def test_a_variant_whose_loss_cannot_be_built_is_refused_before_any_run(assignments, match):
    with pytest.raises(ValueError, match=match):
        parse_variant('bad', assignments)


def test_a_loss_type_registered_by_the_config_is_left_to_the_run():
    spec = parse_variant('mine', ['type=MyLossOfACustomImport', 'beta=2'])
    assert spec['loss_cls'] == dict(type='MyLossOfACustomImport', use_sigmoid=True, beta=2)


def test_a_command_line_variant_starts_from_the_asl_defaults():
    spec = parse_variant('asl_g3_c10', ['gamma_neg=3', 'clip=0.1', 'prior=0.1'])
    assert spec == dict(loss_cls=dict(type='AsymmetricLoss', use_sigmoid=True,
                                      gamma_pos=ASL_DEFAULTS['gamma_pos'], gamma_neg=3,
                                      clip=0.1, loss_weight=1.0),
                        prior=0.1, hooks=None)
    assert ASL['gamma_neg'] == ASL_DEFAULTS['gamma_neg'] and ASL['clip'] == ASL_DEFAULTS['clip']


def test_a_command_line_variant_can_start_from_a_named_one_or_another_loss():
    spec = parse_variant('focal_margin_prior10_reject', ['base=focal_margin_prior10',
                                                         'reject_above=0.5', 'mirror_weight=1.0'])
    expected = dict(VARIANTS['focal_margin_prior10']['loss_cls'], reject_above=0.5,
                    mirror_weight=1.0)
    assert spec['loss_cls'] == expected and spec['prior'] == 0.1
    assert VARIANTS['focal_margin_prior10']['loss_cls'].get('reject_above') is None  # a copy
    focal = parse_variant('focal_g1', ['type=FocalLoss', 'gamma=1.0', 'alpha=0.25'])
    assert focal['loss_cls'] == dict(type='FocalLoss', use_sigmoid=True, gamma=1.0, alpha=0.25)
    assert parse_variant('keep', ['base=asl_paper_prior10', 'prior=None'])['prior'] is None


@pytest.mark.parametrize('name, assignments, match', [
    ('bad/name', [], 'variant name must match'),
    ('focal', ['clip=0.1'], 'is a named variant'),
    ('x', ['clip'], 'KEY=VALUE'),
    ('x', ['prior=0.1', 'prior=0.2'], 'variant x: prior is given twice'),
    ('x', ['prior=1.5'], r'prior must be in \(0, 1\)'),
    ('x', ['prior=nan'], r'variant x: prior must be in \(0, 1\), got nan'),
    ('x', ['prior=true'], r'variant x: prior must be a number in \(0, 1\), got True'),
    ('x', ['base=nope'], r"variant x: base must be a named variant, one of .*, got 'nope'"),
])
def test_bad_command_line_variants_are_refused_by_name(name, assignments, match):
    with pytest.raises(ValueError, match=match):
        parse_variant(name, assignments)


def test_variants_are_read_from_a_file(tmp_path):
    path = tmp_path / 'variants.py'
    path.write_text("variants = dict(\n"
                    "    asl_reject=dict(loss_cls=dict(type='AsymmetricLoss', use_sigmoid=True,\n"
                    "                                  reject_above=0.6), prior=0.1),\n"
                    "    focal_adaptive=dict(loss_cls=dict(type='FocalLoss', use_sigmoid=True),\n"
                    "                        hooks=[dict(type='ProbabilityStatisticsHook')]))\n")
    variants = load_variant_file(str(path))
    assert variants['asl_reject']['prior'] == 0.1
    assert variants['focal_adaptive']['hooks'] == [dict(type='ProbabilityStatisticsHook')]
    assert variant_config('asl_reject', variants)['loss_cls']['reject_above'] == 0.6
    (tmp_path / 'empty.py').write_text('x = 1\n')
    with pytest.raises(ValueError, match='non-empty dict `variants`'):
        load_variant_file(str(tmp_path / 'empty.py'))
    (tmp_path / 'typo.py').write_text("variants = dict(a=dict(loss=dict(type='FocalLoss')))\n")
    with pytest.raises(ValueError, match='keys must be among'):
        load_variant_file(str(tmp_path / 'typo.py'))


def test_the_study_tool_takes_defined_variants_and_trains_them_beside_the_baseline(tmp_path):
    args = parse_args(['--study-dir', str(tmp_path), '--variant', 'asl_g3', 'gamma_neg=3',
                       '--variant', 'asl_c10', 'clip=0.1'])
    settings = settings_of(args)
    assert settings.variants == ['focal', 'asl_g3', 'asl_c10']
    own_baseline = parse_args(['--study-dir', str(tmp_path), '--baseline', 'mine',
                               '--variant', 'mine', 'gamma_neg=3', '--variant', 'b', 'clip=0.1'])
    assert settings_of(own_baseline).variants == ['mine', 'b']  # the baseline once
    assert settings.defined_variants['asl_g3']['loss_cls']['gamma_neg'] == 3
    twice = parse_args(['--study-dir', str(tmp_path), '--variant', 'a', 'clip=0.1',
                        '--variant', 'a', 'clip=0.2'])
    with pytest.raises(ValueError, match='defined twice'):
        defined_variants(twice)
    unknown = parse_args(['--study-dir', str(tmp_path), '--variants', 'focal', 'nope'])
    with pytest.raises(ValueError, match='unknown'):
        settings_of(unknown).validate()
    left_out = parse_args(['--study-dir', str(tmp_path), '--variants', 'focal', 'asl_paper',
                           '--variant', 'mine', 'gamma_neg=3'])
    with pytest.raises(ValueError, match=r'variant \(--variant\) mine is defined but not among '
                                         r'variants \(--variants focal asl_paper\)'):
        settings_of(left_out)


@pytest.mark.parametrize('primary', [['asl_g3', 'asl_g33'], ['focal']])
def test_primary_names_must_be_variants_compared_with_the_baseline(tmp_path, primary):
    args = parse_args(['--study-dir', str(tmp_path), '--variant', 'asl_g3', 'gamma_neg=3',
                       '--primary', *primary])
    with pytest.raises(ValueError, match=rf'primary \(--primary\): {primary[-1]} is not a '
                                         r'variant compared with the baseline focal in this '
                                         r'study \(asl_g3\)'):
        settings_of(args)
    ok = parse_args(['--study-dir', str(tmp_path), '--variant', 'asl_g3', 'gamma_neg=3',
                     '--primary', 'asl_g3'])
    assert settings_of(ok).variants == ['focal', 'asl_g3']


@pytest.fixture
def glyph_options(tmp_path):
    from asl_det.benchmark.glyphs import generate_glyph_detection
    data = generate_glyph_detection(str(tmp_path / 'glyphs'), num_train=4, num_val=2)
    options = {f'{loader}.dataset.data_root': data['root'] + '/'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    options['val_evaluator.ann_file'] = data['val_ann']
    return options


def test_a_defined_variant_is_written_into_its_run_config_and_a_reused_name_is_refused(
        tmp_path, glyph_options):
    GLYPH_CONFIG = STUDY_TOOL['GLYPH_CONFIG']
    defined = {'asl_g3': parse_variant('asl_g3', ['gamma_neg=3', 'prior=0.1'])}
    settings = StudySettings(config_file=GLYPH_CONFIG, records_dir=str(tmp_path / 'records'),
                             work_root=str(tmp_path / 'work'), variants=['focal', 'asl_g3'],
                             seeds=[0], missing_fractions=[0.0], defined_variants=defined,
                             cfg_options=glyph_options)
    plan = StudyPlan(settings, log=lambda line: None)
    path = run_config_path(settings, Job('clean', 0.0, 'asl_g3', 0))
    head = Config.fromfile(path).model.bbox_head
    assert head.loss_cls.gamma_neg == 3 and head.loss_cls.type == 'AsymmetricLoss'
    assert head.init_cfg.override.bias_prob == 0.1
    record = dict(variant='asl_g3', condition='clean', seed=0, metrics=dict(bbox_mAP=0.1),
                  wall_time_s=1.0, versions={}, init_cfg=head.init_cfg.to_dict(),
                  loss_cls=head.loss_cls.to_dict(), data=plan.conditions['clean'].as_record())
    record.update(plan.expected)  # the study's config, schedule and data
    write_record(settings.records_dir, record)
    StudyPlan(settings, log=lambda line: None)  # the same definition resumes
    other = dict(settings.__dict__, defined_variants={
        'asl_g3': parse_variant('asl_g3', ['gamma_neg=3', 'clip=0.2', 'prior=0.1'])})
    with pytest.raises(ValueError, match='give the new variant another name'):
        StudyPlan(StudySettings(**other), log=lambda line: None)
    with open(record_path(settings.records_dir, 'clean', 'asl_g3', 0)) as f:
        assert json.load(f)['loss_cls']['gamma_neg'] == 3
