"""ClassifierPriorHook: the heads that set their classifier bias in init_weights (mmdet: p = 0.01)
start scoring at the prior asked for, in a run from scratch only; other heads are refused,
naming init_cfg."""
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from asl_det.config.classifier_prior import CLASSIFIER_LAYERS, initialised_prior
from asl_det.engine.hooks.classifier_prior_hook import ClassifierPriorHook
from asl_det.launch.runtime import load_config

register_all_modules()

#: mmdet configs whose heads set their classifier bias in init_weights.
HEADS = {
    'RTMDetSepBNHead': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'TOODHead': 'tood/tood_r50_fpn_1x_coco.py',
    'DINOHead': 'dino/dino-4scale_r50_8xb2-12e_coco.py',
    'DDODHead': 'ddod/ddod_r50_fpn_1x_coco.py',
}


def head_cfg(name):
    return load_config(f'mmdet::{HEADS[name]}').model.bbox_head


def built(name):
    torch.manual_seed(0)
    head = MODELS.build(head_cfg(name))
    head.init_weights()
    return head


def runner(head, iteration=0, loaded=False):
    return SimpleNamespace(model=SimpleNamespace(bbox_head=head), iter=iteration,
                           _has_loaded=loaded)


def dense_scores(head, sigmoid=True):
    """The head's classification scores on random FPN features (probabilities)."""
    channels = head.in_channels
    feats = tuple(torch.randn(1, channels, size, size) for size in (16, 8, 4))
    with torch.no_grad():
        scores = head(feats)[0]
    scores = torch.cat([s.flatten() for s in scores])
    return torch.sigmoid(scores) if sigmoid else scores


@pytest.mark.parametrize('name', sorted(HEADS))
def test_mmdet_starts_these_heads_at_one_percent(name):
    assert initialised_prior(head_cfg(name), name) == pytest.approx(0.01, rel=1e-5)


@pytest.mark.parametrize('name, sigmoid', [('RTMDetSepBNHead', True), ('DDODHead', True),
                                           ('TOODHead', False)])  # TOOD returns probabilities
def test_a_dense_head_scores_at_the_prior_after_the_hook(name, sigmoid):
    head = built(name)
    assert dense_scores(head, sigmoid).mean() == pytest.approx(0.01, rel=0.1)
    ClassifierPriorHook(prior=0.2).before_train(runner(head))
    assert dense_scores(head, sigmoid).mean() == pytest.approx(0.2, rel=0.05)


def test_a_detr_head_classifies_every_query_at_the_prior_after_the_hook():
    head = built('DINOHead')
    ClassifierPriorHook(prior=0.1).before_train(runner(head))
    for branch in head.cls_branches:
        logits = branch(torch.randn(5, branch.in_features) * 0.01)
        assert float(torch.sigmoid(logits).mean()) == pytest.approx(0.1, rel=0.01)


@pytest.mark.parametrize('iteration, loaded', [(100, False), (0, True)])
def test_weights_from_a_checkpoint_are_kept(iteration, loaded):
    head = built('RTMDetSepBNHead')
    before = [conv.bias.clone() for conv in head.rtm_cls]
    ClassifierPriorHook(prior=0.2).before_train(runner(head, iteration, loaded))
    assert all(torch.equal(a, conv.bias) for a, conv in zip(before, head.rtm_cls))


def test_other_heads_and_bad_priors_are_refused():
    retina = MODELS.build(load_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
                          .model.bbox_head)
    with pytest.raises(ValueError, match=r"RetinaHead is not among .*init_cfg's override "
                                         r'bias_prob'):
        ClassifierPriorHook(prior=0.1).before_train(runner(retina))
    cfg = head_cfg('RTMDetSepBNHead')
    head = MODELS.build(dict(cfg, with_objectness=True))
    with pytest.raises(ValueError, match='with_objectness'):
        ClassifierPriorHook(prior=0.1).before_train(runner(head))
    for prior in (0.0, 1.0, float('nan')):
        with pytest.raises(ValueError, match=r'prior must be in \(0, 1\)'):
            ClassifierPriorHook(prior=prior)


def test_every_listed_head_is_an_mmdet_head():
    assert all(MODELS.get(name) is not None for name in CLASSIFIER_LAYERS)
