"""Probability statistics and the hooks with every target form, quality tuples included."""
from types import SimpleNamespace

import pytest
import torch
from mmdet.models.losses import QualityFocalLoss
from mmengine.logging import MessageHub

from asl_det.engine.hooks import (
    AdaptiveAsymmetryHook,
    ProbabilityStatisticsHook,
    find_classification_losses,
)
from asl_det.models.losses import AsymmetricLoss, probability_statistics

N, C = 60, 5


def make_quality_target(seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(N, C, generator=gen) * 2
    labels = torch.randint(0, C + 1, (N,), generator=gen)
    labels[:2] = torch.tensor([1, C])
    scores = torch.rand(N, generator=gen)
    return logits, labels, scores


def direct_statistics(p, labels, scores, weight):
    """Means written out element by element: positives are the labelled classes of foreground
    rows with p_t = 1 - |s - p|, every other element a negative with p_t = 1 - p."""
    pos_sum = pos_count = neg_sum = neg_count = 0.0
    for i in range(p.size(0)):
        for c in range(p.size(1)):
            w = float(weight[i, c])
            if int(labels[i]) == c:
                pos_sum += w * (1 - abs(float(scores[i]) - float(p[i, c])))
                pos_count += w
            else:
                neg_sum += w * (1 - float(p[i, c]))
                neg_count += w
    return pos_sum, pos_count, neg_sum, neg_count


@pytest.mark.parametrize('weight_shape', ['prior', 'element', 'flat', None])
@pytest.mark.parametrize('activated', [False, True])
def test_quality_target_statistics_against_direct_sums(weight_shape, activated):
    logits, labels, scores = make_quality_target()
    gen = torch.Generator().manual_seed(1)
    element = (torch.rand(N, C, generator=gen) > 0.2).float() * torch.rand(N, C, generator=gen)
    prior = (torch.rand(N, generator=gen) > 0.3).float()
    weight = dict(prior=prior, element=element, flat=element.reshape(-1)).get(weight_shape)
    full_weight = {'prior': prior[:, None].expand(N, C), 'element': element,
                   'flat': element, None: torch.ones(N, C)}[weight_shape]
    p = logits.sigmoid()
    pred = p if activated else logits
    stats = probability_statistics(pred, (labels, scores), weight, activated=activated)
    expected = direct_statistics(p, labels, scores, full_weight)
    for key, value in zip(('pos_prob_sum', 'pos_count', 'neg_prob_sum', 'neg_count'), expected):
        assert stats[key].item() == pytest.approx(value, rel=1e-5, abs=1e-5), key


def test_scores_of_one_give_the_integer_label_statistics():
    logits, labels, _ = make_quality_target(seed=2)
    weight = torch.rand(N)
    stats = probability_statistics(logits, (labels, torch.ones(N)), weight)
    expected = probability_statistics(logits, labels, weight)
    for key in expected:
        torch.testing.assert_close(stats[key], expected[key])


def test_soft_target_statistics_against_direct_sums():
    logits, _, _ = make_quality_target(seed=3)
    y = torch.rand(N, C)
    weight = torch.rand(N)
    stats = probability_statistics(logits, y, weight)
    p, w = logits.sigmoid(), weight[:, None]
    torch.testing.assert_close(stats['pos_prob_sum'], (y * w * p).sum())
    torch.testing.assert_close(stats['pos_count'], (y * w).sum())
    torch.testing.assert_close(stats['neg_prob_sum'], ((1 - y) * w * (1 - p)).sum())
    torch.testing.assert_close(stats['neg_count'], ((1 - y) * w).sum())


def test_statistics_refuse_bad_input_as_the_loss_does():
    logits, labels, scores = make_quality_target()
    with pytest.raises(ValueError, match='target scores must be in'):
        probability_statistics(logits, (labels, scores + 1))
    with pytest.raises(ValueError, match='weight must have shape'):
        probability_statistics(logits, labels, torch.ones(N - 1))


class TOODLikeHead(torch.nn.Module):
    """The two classification losses of TOOD's head: integer labels first, then quality."""

    def __init__(self, loss, initial_loss):
        super().__init__()
        self.loss_cls = loss
        self.initial_loss_cls = initial_loss


def make_runner(head, name):
    model = torch.nn.Module()
    model.bbox_head = head
    return SimpleNamespace(model=model, iter=0, logger=SimpleNamespace(warning=lambda msg: None),
                           message_hub=MessageHub.get_instance(name))


def run_iteration(hook, runner, calls):
    hook.before_train_iter(runner, 0)
    for loss, args in calls:
        loss(*args)
    hook.after_train_iter(runner, 0)
    runner.iter += 1


def test_statistics_hook_measures_quality_focal_loss_tuples():
    logits, labels, scores = make_quality_target(seed=4)
    qfl = QualityFocalLoss(activated=True).train()
    head = TOODLikeHead(qfl, torch.nn.Module())
    runner = make_runner(head, 'asl_det_test_qfl_tuples')
    hook = ProbabilityStatisticsHook()
    hook.before_run(runner)
    assert hook._losses == [qfl]
    p = logits.sigmoid()
    run_iteration(hook, runner, [(qfl, (p, (labels, scores)))])
    pos_sum, pos_count, neg_sum, neg_count = direct_statistics(p, labels, scores,
                                                               torch.ones(N, C))
    scalars = runner.message_hub.log_scalars
    assert scalars['train/asl_pos_prob'].current() == pytest.approx(pos_sum / pos_count,
                                                                    rel=1e-5)
    assert scalars['train/asl_prob_gap'].current() == pytest.approx(
        neg_sum / neg_count - pos_sum / pos_count, rel=1e-5)


def test_statistics_hook_skips_calls_outside_the_contract():
    logits, labels, scores = make_quality_target(seed=5)
    loss = AsymmetricLoss().train()
    model = torch.nn.Module()
    model.loss_cls = loss
    hook = ProbabilityStatisticsHook()
    hook.attach(model)
    hook.start()
    with pytest.raises(ValueError):                     # the loss refuses it; not measured
        loss(logits, (labels, scores, scores))
    with pytest.raises(ValueError):
        loss(logits, labels, torch.ones(N + 1))
    assert hook.finish() is None
    hook.start()
    loss(logits, [labels, scores])                       # a list pair is measured
    stats = hook.finish()
    assert stats is not None and stats['pos_count'] == float((labels < C).sum())


def test_adaptive_hook_steers_both_tood_losses_with_tuple_targets():
    loss = AsymmetricLoss(gamma_neg=4.0, activated=True).train()
    initial = AsymmetricLoss(gamma_neg=4.0, activated=True).train()
    head = TOODLikeHead(loss, initial)
    runner = make_runner(head, 'asl_det_test_tood_tuples')
    assert find_classification_losses(runner.model) == [loss, initial]
    hook = AdaptiveAsymmetryHook(target_gap=0.1, step_size=0.5, momentum=0.0)
    hook.before_run(runner)
    p = torch.full((20, 3), 0.2)
    labels = torch.tensor([0] * 5 + [3] * 15)
    scores = torch.tensor([0.9] * 5 + [0.0] * 15)
    run_iteration(hook, runner, [(loss, (p, (labels, scores))), (initial, (p, labels))])
    # positives: 5 quality (p_t = 1 - |0.9 - 0.2| = 0.3) + 5 binary (p_t = 0.2)
    pos_prob = (5 * 0.3 + 5 * 0.2) / 10
    gap = (1 - 0.2) - pos_prob
    assert hook.smoothed_gap == pytest.approx(gap, rel=1e-5)
    assert loss.gamma_neg == initial.gamma_neg == pytest.approx(4.0 + 0.5 * (gap - 0.1),
                                                                rel=1e-5)

