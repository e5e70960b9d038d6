"""UnlabelledAnchorProbabilityHook: which negatives lie on dropped objects and which on
background, their probabilities, the summaries, and a tiny training run that it must not change."""
import copy
import glob
import json
import os.path as osp
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from mmdet.models.task_modules.assigners import ATSSAssigner, MaxIoUAssigner
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_detection import REPO, tool_env, write_coco_dataset, write_tiny_config

from asl_det.benchmark.study.missing_annotations import write_missing_annotation_split
from asl_det.engine.hooks.unlabelled_anchor_probability_hook import (
    QUANTILES,
    THRESHOLDS,
    UnlabelledAnchorProbabilityHook,
    assigner_thresholds,
    kept_box_keys,
    probe_pipeline,
    split_instances,
    summarise_probabilities,
    summarise_probe_file,
    unlabelled_anchor_probabilities,
)

MODULE = 'asl_det.engine.hooks.unlabelled_anchor_probability_hook'


def boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


# Kept boxes K (label 0) and K2 (label 1); dropped boxes D0 (1), D1 (0), D2 (1), D3 (0), D4 (0).
KEPT = boxes([0, 0, 10, 10], [200, 200, 230, 215])
KEPT_LABELS = torch.tensor([0, 1])
DROPPED = boxes([20, 0, 30, 10], [40, 0, 50, 10], [60, 0, 70, 10], [62, 0, 72, 10],
                [0, 0, 10, 12])
DROPPED_LABELS = torch.tensor([1, 0, 1, 0, 0])
# IoUs worked out by hand (assigner: positive >= 0.5, negative < 0.4)
ANCHORS = boxes(
    [0, 0, 10, 10],        # 0: K, IoU 1 -> positive (though on D4, 100/120, too)
    [20, 0, 30, 10],       # 1: D0, IoU 1 -> unlabelled, class 1
    [20, 0, 30, 12],       # 2: D0, IoU 100/120 -> unlabelled, class 1
    [22, 0, 32, 10],       # 3: D0, IoU 80/120 -> unlabelled, class 1
    [24, 0, 34, 10],       # 4: D0, IoU 60/140 = 0.43: negative, neither
    [100, 100, 110, 110],  # 5: no box -> background
    [3, 0, 13, 10],        # 6: K, IoU 70/130 -> positive (D4: 70/150)
    [5, 0, 15, 10],        # 7: K 50/150, D4 50/170 -> negative, background
    [4, 0, 14, 10],        # 8: K, IoU 60/140 -> ignored by the assigner (D4: 60/160)
    [40, 0, 50, 11],       # 9: D1, IoU 100/110 -> unlabelled, class 0
    [60, 0, 70, 10],       # 10: D2 IoU 1, D3 80/120 -> unlabelled, class of D2 (1)
    [200, 200, 210, 210],  # 11: K2 IoU 0.22, its best anchor -> positive (low-quality match)
)


def max_iou_assigner(**kwargs):
    return MaxIoUAssigner(**dict(dict(pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0),
                                 **kwargs))


def test_negatives_split_by_hand():
    probs = torch.rand(len(ANCHORS), 2, generator=torch.Generator().manual_seed(0))
    split = unlabelled_anchor_probabilities(probs, ANCHORS, KEPT, KEPT_LABELS, DROPPED,
                                            DROPPED_LABELS, max_iou_assigner())
    assert split.unlabelled_index.tolist() == [1, 2, 3, 9, 10]
    expected = torch.stack([probs[1, 1], probs[2, 1], probs[3, 1], probs[9, 0], probs[10, 1]])
    assert torch.equal(split.unlabelled_prob, expected)
    assert split.background_index.tolist() == [5, 7]
    assert torch.equal(split.background_prob,
                       torch.stack([probs[5].max(), probs[7].max()]))


def test_dropped_box_counts_only_against_negatives_and_background_against_every_box():
    probs = torch.full((len(ANCHORS), 2), 0.5)
    # nothing dropped: no unlabelled anchors; the anchors on dropped boxes become background
    split = unlabelled_anchor_probabilities(probs, ANCHORS, KEPT, KEPT_LABELS, boxes(),
                                            torch.zeros(0, dtype=torch.long),
                                            max_iou_assigner())
    assert split.unlabelled_index.numel() == 0
    assert split.background_index.tolist() == [1, 2, 3, 4, 5, 7, 9, 10]
    # nothing kept: every anchor is a negative
    split = unlabelled_anchor_probabilities(probs, ANCHORS, boxes(),
                                            torch.zeros(0, dtype=torch.long), DROPPED,
                                            DROPPED_LABELS, max_iou_assigner())
    assert split.unlabelled_index.tolist() == [0, 1, 2, 3, 9, 10]  # 0 on D4 now
    assert split.background_index.tolist() == [5, 7, 8, 11]  # 6: D4 0.47, 8: D4 0.375
    # a crowd box is no background
    split = unlabelled_anchor_probabilities(probs, ANCHORS, KEPT, KEPT_LABELS, DROPPED,
                                            DROPPED_LABELS, max_iou_assigner(),
                                            ignored_boxes=boxes([100, 100, 110, 110]))
    assert split.background_index.tolist() == [7]


def test_negative_threshold_range_and_other_assigners():
    assert assigner_thresholds(max_iou_assigner(neg_iou_thr=(0.1, 0.3))) == (0.5, 0.3)
    with pytest.raises(TypeError, match='ATSSAssigner'):
        assigner_thresholds(ATSSAssigner(topk=9))
    with pytest.raises(TypeError, match='MaxIoUAssigner'):
        unlabelled_anchor_probabilities(torch.zeros(1, 2), boxes([0, 0, 1, 1]), KEPT,
                                        KEPT_LABELS, DROPPED, DROPPED_LABELS,
                                        ATSSAssigner(topk=9))


def test_summary_against_numpy():
    values = torch.rand(1001, generator=torch.Generator().manual_seed(1)) ** 3
    summary = summarise_probabilities(values)
    assert summary['count'] == 1001
    reference = np.quantile(values.double().numpy(), QUANTILES)
    assert list(summary['quantiles']) == ['p10', 'p25', 'p50', 'p75', 'p90', 'p99']
    np.testing.assert_allclose(list(summary['quantiles'].values()), reference, rtol=1e-12)
    shares = [(values.numpy() > t).mean() for t in THRESHOLDS]
    assert list(summary['share_above']) == [f'{t:g}' for t in THRESHOLDS]
    np.testing.assert_allclose(list(summary['share_above'].values()), shares, rtol=1e-12)
    one = summarise_probabilities(torch.tensor([0.5]), quantiles=(0.0, 0.5, 1.0),
                                  thresholds=(0.5, 0.25))
    assert one['quantiles'] == dict(p0=0.5, p50=0.5, p100=0.5)
    assert one['share_above'] == {'0.5': 0.0, '0.25': 1.0}  # strictly above
    empty = summarise_probabilities(torch.zeros(0))
    assert empty['count'] == 0 and set(empty['quantiles'].values()) == {None}


def test_kept_boxes_matched_per_image_including_identical_boxes():
    full = dict(annotations=[
        dict(id=1, image_id=5, category_id=3, bbox=[1.5, 2, 10, 20]),
        dict(id=2, image_id=5, category_id=3, bbox=[1.5, 2, 10, 20]),  # identical to 1
        dict(id=3, image_id=5, category_id=7, bbox=[1.5, 2, 10, 20]),  # other class
        dict(id=4, image_id=6, category_id=3, bbox=[1.5, 2, 10, 20]),  # other image
    ])
    train = dict(annotations=[full['annotations'][1], full['annotations'][3]])
    kept = kept_box_keys(train, full, {3: 0, 7: 1})
    instances = [dict(bbox=[1.5, 2.0, 11.5, 22.0], bbox_label=label) for label in (0, 0, 1)]
    assert split_instances(instances, kept[5]) == [True, False, False]
    assert split_instances(instances[:1], kept[6]) == [True]
    moved = dict(annotations=[dict(full['annotations'][0], bbox=[1.5, 2, 10, 21])])
    with pytest.raises(ValueError, match='full_ann_file'):
        kept_box_keys(moved, full, {3: 0, 7: 1})


def test_probe_pipeline_loads_boxes_before_resize():
    test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(8, 8)),
                     dict(type='LoadAnnotations', with_bbox=True, with_mask=False),
                     dict(type='PackDetInputs', meta_keys=('img_id', 'scale_factor'))]
    pipeline = probe_pipeline(test_pipeline)
    assert [t['type'] for t in pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'PackDetInputs']
    assert 'img_shape' in pipeline[-1]['meta_keys']
    assert test_pipeline[2]['type'] == 'LoadAnnotations'  # the config is left as it was
    added = probe_pipeline([dict(type='LoadImageFromFile'), dict(type='PackDetInputs')])
    assert added[1] == dict(type='LoadAnnotations', with_bbox=True, with_label=True)
    with pytest.raises(ValueError, match='pipeline'):
        probe_pipeline([dict(type='PackDetInputs')])


def evaluation(iteration, unlabelled_shares, background_shares):
    def summary(shares):
        return dict(count=10, quantiles=dict(p50=0.1 * iteration),
                    share_above={'0.1': shares[0], '0.5': shares[1]})
    return dict(iter=iteration, unlabelled=summary(unlabelled_shares),
                background=summary(background_shares))


def test_summarise_probe_file(tmp_path):
    path = tmp_path / 'probe.json'
    path.write_text(json.dumps(dict(config=dict(num_images=3), evaluations=[
        evaluation(2, (0.9, 0.2), (0.3, 0.0)), evaluation(4, (0.5, 0.4), (0.05, 0.01))])))
    summary = summarise_probe_file(str(path))
    assert summary['config'] == dict(num_images=3)
    assert summary['iters'] == [2, 4]
    assert summary['series']['unlabelled_p50'] == [0.2, 0.4]
    assert summary['series']['background_above_0.5'] == [0.0, 0.01]
    assert summary['series']['separating_threshold'] == [0.1, 0.1]
    assert summary['series']['separating_gap'] == pytest.approx([0.6, 0.45])
    assert summary['final']['unlabelled_count'] == 10
    assert summary['final']['separating_gap'] == pytest.approx(0.45)


def test_constructor_checks():
    with pytest.raises(ValueError, match='num_images'):
        UnlabelledAnchorProbabilityHook('full.json', num_images=0)
    with pytest.raises(ValueError, match='thresholds'):
        UnlabelledAnchorProbabilityHook('full.json', thresholds=(0.5, 1.5))
    with pytest.raises(ValueError, match='full_ann_file'):
        UnlabelledAnchorProbabilityHook('')


class FakeRunner:
    """What the hook reads of a runner, for validations at chosen iterations."""

    def __init__(self, work_dir):
        from mmengine.logging import MessageHub
        self.work_dir, self.iter, self.epoch, self.model = str(work_dir), 0, 0, None
        self.cfg = None
        self.message_hub = MessageHub.get_instance('fake_runner_probe')


def sitting(work_dir, start, validations, interval=2):
    """One process's training from iteration ``start``, validating at ``validations``: the
    iterations the hook probed at, read back from its file."""
    hook = UnlabelledAnchorProbabilityHook('full.json', interval=interval)
    hook.prepare = lambda cfg: dict(config={})
    hook.measure = lambda model: dict(images=0, kept_boxes=0, dropped_boxes=0, **{
        kind: summarise_probabilities([]) for kind in ('unlabelled', 'background')})
    runner = FakeRunner(work_dir)
    runner.iter = start
    hook.before_train(runner)
    for iteration in validations:
        runner.iter = iteration
        hook.after_val_epoch(runner)
    with open(osp.join(work_dir, 'unlabelled_anchor_probabilities.json')) as f:
        saved = json.load(f)
    return [e['iter'] for e in saved['evaluations']], saved['validation_iters']


def test_every_interval_th_validation_of_the_run_is_probed_across_a_resume(tmp_path,
                                                                          monkeypatch):
    """Validations at 1, 2, 3, 4 with interval 2 probe 1 and 3, in one go or resumed from the
    checkpoint of iteration 1 (the interrupted sitting validated at 2 already); a run from
    iteration 0 starts the file afresh."""
    import asl_det.engine.hooks.unlabelled_anchor_probability_hook as module
    monkeypatch.setattr(module, 'probed_head', lambda model: (object(), None))
    monkeypatch.setattr(module, 'assigner_thresholds', lambda assigner: (0.5, 0.4))
    whole, resumed = tmp_path / 'whole', tmp_path / 'resumed'
    whole.mkdir(), resumed.mkdir()
    assert sitting(whole, 0, [1, 2, 3, 4]) == ([1, 3], [1, 2, 3, 4])
    assert sitting(resumed, 0, [1, 2]) == ([1], [1, 2])
    assert sitting(resumed, 1, [2, 3, 4]) == ([1, 3], [1, 2, 3, 4])
    assert sitting(resumed, 0, [2, 4]) == ([2], [2, 4])  # afresh: another schedule


# ---- end to end: a tiny RetinaNet trained on a missing50 split ----

MAX_ITERS = 4


@pytest.fixture(scope='module')
def tiny_study(tmp_path_factory):
    root = tmp_path_factory.mktemp('unlabelled')
    data = write_coco_dataset(str(root / 'data'), num_train=8, num_val=2)
    full = osp.join(data, 'annotations', 'instances_train.json')
    split = write_missing_annotation_split(full, 0.5, seed=0)
    base = write_tiny_config(str(root / 'base.py'), data, max_iters=MAX_ITERS)
    return dict(root=root, data=data, full=full, split=split, base=base)


def probe_config(study, name, hook=True):
    """The tiny config trained on the missing50 split, validating every 2 iterations, with
    the probe at every second validation (iteration 2) when ``hook``."""
    hooks = [dict(type='ProbabilityStatisticsHook')]
    if hook:
        hooks.append(dict(type='UnlabelledAnchorProbabilityHook', full_ann_file=study['full'],
                          interval=2, batch_size=3))
    path = study['root'] / f'{name}.py'
    path.write_text('\n'.join([
        f'_base_ = [{study["base"]!r}]',
        f"custom_imports = dict(imports=['asl_det', {MODULE!r}], allow_failed_imports=False)",
        f"train_dataloader = dict(dataset=dict(ann_file={study['split']['ann_file']!r}))",
        'train_cfg = dict(val_interval=2)',
        f'custom_hooks = {hooks!r}',
        f'work_dir = {str(study["root"] / name)!r}',
        f'experiment_name = {name!r}',
        f'visualizer = dict(name={name!r})',  # one visualizer per in-process runner
    ]) + '\n')
    return str(path)


def train(config):
    runner = Runner.from_cfg(Config.fromfile(config))
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    return runner, losses, {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_probe_on_tiny_training_run_leaves_training_unchanged(tiny_study):
    runner, losses, weights = train(probe_config(tiny_study, 'with_probe'))
    _, plain_losses, plain_weights = train(probe_config(tiny_study, 'without_probe', False))
    assert len(losses) == MAX_ITERS
    np.testing.assert_array_equal(losses, plain_losses)
    assert weights.keys() == plain_weights.keys()
    assert all(torch.equal(weights[k], plain_weights[k]) for k in weights)

    path = osp.join(runner.work_dir, 'unlabelled_anchor_probabilities.json')
    with open(path) as f:
        record = json.load(f)
    assert len(record['evaluations']) == 1  # validations at 2 and 4, probe at every second
    probe = record['evaluations'][0]
    with open(tiny_study['full']) as f:
        full_boxes = len(json.load(f)['annotations'])
    assert probe['iter'] == 2 and probe['images'] == 8
    assert probe['kept_boxes'] + probe['dropped_boxes'] == full_boxes
    assert probe['dropped_boxes'] == tiny_study['split']['dropped_annotations'] > 0
    assert probe['unlabelled']['count'] > 0
    assert probe['background']['count'] > probe['unlabelled']['count']
    for kind in ('unlabelled', 'background'):
        quantiles = list(probe[kind]['quantiles'].values())
        assert quantiles == sorted(quantiles) and 0 < quantiles[0] and quantiles[-1] < 1
    assert record['config']['image_ids'] == list(range(1, 9))
    assert record['config']['assigner'] == 'MaxIoUAssigner'
    assert record['config']['pos_iou_thr'] == 0.5 and record['config']['neg_iou_thr'] == 0.4
    # in the probed validation's log line and scalars, not repeated at the next validation
    logs = ''.join(open(p).read() for p in glob.glob(osp.join(runner.work_dir, '*', '*.log')))
    assert logs.count('unlabelled_p50') == logs.count('background_p99') == 1
    scalars = [json.loads(line) for p in glob.glob(
        osp.join(runner.work_dir, '*', 'vis_data', 'scalars.json')) for line in open(p)]
    logged = [(s['step'], s['unlabelled_p50']) for s in scalars if 'unlabelled_p50' in s]
    assert logged == [(2, pytest.approx(probe['unlabelled']['quantiles']['p50']))]
    assert summarise_probe_file(path)['iters'] == [2]


def test_probe_counts_match_a_direct_count(tiny_study):
    """The kept and dropped boxes the hook finds, image by image, are the split's; the
    model's training mode is restored."""
    with open(tiny_study['full']) as f:
        full = json.load(f)
    with open(tiny_study['split']['ann_file']) as f:
        kept = json.load(f)['annotations']
    kept_ids = {a['id'] for a in kept}
    cfg = Config.fromfile(probe_config(tiny_study, 'prepare'))
    hook = UnlabelledAnchorProbabilityHook(tiny_study['full'], num_images=5)
    hook._probe = hook.prepare(cfg)
    assert hook._probe['config']['image_ids'] == [1, 2, 3, 4, 5]
    # as training, with filter_empty_gt: only the images that kept a box
    trained = sorted({a['image_id'] for a in kept})
    assert len(trained) < 8
    filtered = copy.deepcopy(cfg)
    filtered.train_dataloader.dataset.filter_cfg = dict(filter_empty_gt=True)
    hook.num_images = 8
    assert hook.prepare(filtered)['config']['image_ids'] == trained
    hook._probe = hook.prepare(cfg)
    found = Counter()
    for index in hook._probe['indices']:
        _, flags = hook._load(index)
        found.update(flags)
    assert found[True] == len(kept_ids)
    assert found[False] == len(full['annotations']) - len(kept_ids)
    model = MODELS.build(cfg.model)
    for training in (True, False):
        model.train(training)
        measured = hook.measure(model)
        assert model.training is training
        assert (measured['kept_boxes'], measured['dropped_boxes']) == (found[True], found[False])


def test_train_dataset_found_through_wrappers(tiny_study):
    cfg = Config.fromfile(probe_config(tiny_study, 'wrapped'))
    dataset = cfg.train_dataloader.dataset
    hook = UnlabelledAnchorProbabilityHook(tiny_study['full'], num_images=3)
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=dataset)
    assert hook.prepare(cfg)['config']['image_ids'] == [1, 2, 3]
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[dataset, dataset])
    with pytest.raises(ValueError, match='ConcatDataset'):
        hook.prepare(cfg)


PROBE = '''
import json, sys
import mmdet.models  # noqa: F401
import asl_det  # noqa: F401
from mmdet.registry import HOOKS
from mmengine.config import Config
from mmengine.runner import Runner
before = HOOKS.get('UnlabelledAnchorProbabilityHook') is not None
runner = Runner.from_cfg(Config.fromfile(sys.argv[1]))
print(json.dumps(dict(before=before, hooks=[type(h).__name__ for h in runner.hooks])))
'''


def test_config_with_custom_imports_builds_the_hook(tiny_study):
    """In a fresh interpreter: ``import asl_det`` does not register the hook; the config's
    ``custom_imports`` of the module does."""
    config = probe_config(tiny_study, 'subprocess')
    result = subprocess.run([sys.executable, '-c', PROBE, config], cwd=REPO, env=tool_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert not found['before']
    assert 'UnlabelledAnchorProbabilityHook' in found['hooks']
