"""asl_det.config.coverage: a fast subset of the coverage table (tools/asl_coverage.py) trains
and predicts with ASL on CPU; families are grouped and represented as documented; failures are
reported in the row, never raised."""
import os.path as osp

import pytest

from asl_det.config import asl_swap
from asl_det.config.asl_swap import REFUSALS
from asl_det.config.coverage import (
    CoverageRow,
    Family,
    check_config,
    count_line,
    coverage_table,
    find_families,
)

# (config, classifier target, shifted scores) as read from mmdet 3.3.0's heads.
FAST_SUBSET = [
    ('retinanet/retinanet_r50_fpn_1x_coco.py', 'labels', 'yes'),
    ('rtmdet/rtmdet_tiny_8xb32-300e_coco.py', '(labels, scores)', 'yes'),
    ('gfl/gfl_r50_fpn_1x_coco.py', '(labels, scores)', 'no: GFLHead._predict_by_feat_single'),
    ('tood/tood_r50_fpn_1x_coco.py', 'labels then (labels, scores)',
     'no: TOODHead._predict_by_feat_single'),
    ('deformable_detr/deformable-detr_r50_16xb2-50e_coco.py', 'labels',
     'no: DeformableDETRHead.predict_by_feat'),
]


@pytest.mark.parametrize('config,target,shifted', FAST_SUBSET)
def test_family_trains_and_predicts_with_asl(config, target, shifted):
    row = check_config(config, image_size=64, max_queries=10)
    assert (row.result, row.target, row.shifted_scores) == ('works', target, shifted), row.detail


def test_vfnet_is_refused_with_the_losses_reason():
    row = check_config('vfnet/vfnet_r50_fpn_1x_coco.py')
    assert row.result == 'refused' and REFUSALS['VFNetHead'] in row.detail


def freeanchor_with_loss_cls(tmp_path):
    config = tmp_path / 'freeanchor_with_loss_cls.py'
    config.write_text("_base_ = 'mmdet::free_anchor/freeanchor_r50_fpn_1x_coco.py'\n"
                      "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss')))\n")
    return str(config)


def test_a_head_known_never_to_call_its_loss_cls_is_refused(tmp_path):
    row = check_config(freeanchor_with_loss_cls(tmp_path), image_size=64, max_image_size=64)
    assert row.result == 'refused' and REFUSALS['FreeAnchorRetinaHead'] in row.detail


def test_a_head_that_never_calls_its_loss_cls_fails_in_the_row(tmp_path, monkeypatch):
    """The trial finds such a head by itself (here FreeAnchor with its refusal taken away: it
    computes its classification loss itself, so an ASL swapped into the loss_cls it carries is
    never called), and the row says so (the unswapped config trains)."""
    monkeypatch.delitem(asl_swap._REFUSALS, 'FreeAnchorRetinaHead')
    row = check_config(freeanchor_with_loss_cls(tmp_path), image_size=64, max_image_size=64)
    assert row.result == 'failed'
    assert row.detail.startswith('train: RuntimeError: AsymmetricLoss at bbox_head.loss_cls '
                                 'was never called in training')
    assert row.detail.endswith('(the unswapped config works at 64 px)')


def test_a_family_failing_without_asl_too_is_not_run():
    """mmcv has no CPU kernel for GA-RetinaNet's masked convolution: inference fails with and
    without ASL, so the family cannot be checked here (and is not counted)."""
    row = check_config('guided_anchoring/ga-retinanet_r50_fpn_1x_coco.py', image_size=64,
                       max_image_size=64)
    assert row.result == 'not run'
    assert row.detail.startswith('predict: RuntimeError: masked_im2col_forward_impl')
    assert row.detail.endswith('(the ASL training step passed)')


def test_find_families_groups_and_picks_the_representative(tmp_path):
    configs = {
        'retinanet/retinanet_r18_fpn_1x.py': "mmdet::retinanet/retinanet_r18_fpn_1x_coco.py",
        'retinanet/retinanet_r50_fpn_long_name_1x.py':
            "mmdet::retinanet/retinanet_r50_fpn_1x_coco.py",
        'retinanet/retinanet_r50_fpn_2x.py': "mmdet::retinanet/retinanet_r50_fpn_2x_coco.py",
        'detr/detr_r50.py': "mmdet::detr/detr_r50_8xb2-150e_coco.py",  # softmax loss_cls
        'faster/faster_r50.py': "mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
        '_base_/models/retina.py': "mmdet::retinanet/retinanet_r50_fpn_1x_coco.py",
    }
    for rel, base in configs.items():
        (tmp_path / osp.dirname(rel)).mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"_base_ = '{base}'\n")
    (tmp_path / 'broken.py').write_text("_base_ = './missing.py'\n")

    families, unloadable = find_families(str(tmp_path))
    assert [(f.name, f.sigmoid, sorted(f.configs)) for f in families] == [
        ('DETR / DETRHead / CrossEntropyLoss', False, ['detr/detr_r50.py']),
        ('RetinaNet / RetinaHead / FocalLoss', True,
         ['retinanet/retinanet_r18_fpn_1x.py', 'retinanet/retinanet_r50_fpn_2x.py',
          'retinanet/retinanet_r50_fpn_long_name_1x.py'])]  # no two-stage, no _base_
    assert families[1].representative == 'retinanet/retinanet_r50_fpn_2x.py'  # r50, shortest
    assert [path for path, _ in unloadable] == ['broken.py']


def test_representative_prefers_r50_then_short_names():
    family = Family('D', 'H', 'FocalLoss', True,
                    ('a/x_r18.py', 'a/x_r50_long.py', 'a/x_r50_b.py', 'a/x_r50_a.py'))
    assert family.representative == 'a/x_r50_a.py'
    assert Family('D', 'H', None, False, ('a/zz.py', 'a/y.py')).representative == 'a/y.py'


def test_count_and_table():
    rows = [CoverageRow('A / H / L', 'a.py', 'H', 'works', 'model.bbox_head.loss_cls'),
            CoverageRow('B / H / L', 'b.py', 'H', 'refused', 'a | b'),
            CoverageRow('C / H / L', 'c.py', 'H', 'failed', 'train: x'),
            CoverageRow('D / H / L', 'd.py', 'H', 'not run', 'needs a download')]
    assert count_line(rows) == '1 of 3 families train with ASL'  # 'not run' is not counted
    table = coverage_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[3].endswith('| a \\| b |')  # a '|' in a reason does not split the cell
