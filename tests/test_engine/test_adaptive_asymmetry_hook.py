"""Adaptive asymmetry: update rule, guards, statistics, checkpoint state."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub

from asl_det.engine.hooks import AdaptiveAsymmetryHook, ProbabilityStatisticsHook, adapt_gamma_neg
from asl_det.models.losses import AsymmetricLoss, probability_statistics


def test_update_direction_and_size():
    # gap above target: positives under-emphasised -> gamma_neg rises by lambda * error
    assert adapt_gamma_neg(4.0, 0.6, 0.1, 0.01, (0, 8)) == pytest.approx(4.005)
    # gap below target -> gamma_neg falls
    assert adapt_gamma_neg(4.0, -0.2, 0.1, 0.01, (0, 8)) == pytest.approx(3.997)
    assert adapt_gamma_neg(4.0, 0.1, 0.1, 0.01, (0, 8)) == 4.0


def test_update_bounds_and_non_finite_gap():
    assert adapt_gamma_neg(7.99, 1.0, 0.1, 1.0, (0, 8)) == 8.0
    assert adapt_gamma_neg(0.01, -1.0, 0.1, 1.0, (0, 8)) == 0.0
    assert adapt_gamma_neg(4.0, math.nan, 0.1, 1.0, (0, 8)) == 4.0
    assert adapt_gamma_neg(4.0, math.inf, 0.1, 1.0, (0, 8)) == 4.0


def test_probability_statistics_against_direct_means():
    logits = torch.randn(50, 4)
    labels = torch.randint(0, 5, (50,))
    weight = (torch.rand(50) > 0.3).float()
    stats = probability_statistics(logits, labels, weight)
    p = logits.sigmoid()
    y = torch.nn.functional.one_hot(labels, 5)[:, :4].bool()
    keep = weight.bool()[:, None].expand_as(y)
    torch.testing.assert_close(stats['pos_prob_sum'] / stats['pos_count'], p[y & keep].mean())
    torch.testing.assert_close(stats['neg_prob_sum'] / stats['neg_count'],
                               (1 - p[~y & keep]).mean())


class FakeModel(torch.nn.Module):

    def __init__(self, loss):
        super().__init__()
        self.bbox_head = torch.nn.Module()
        self.bbox_head.loss_cls = loss


def make_runner(loss):
    logger = SimpleNamespace(warning=lambda msg: None)
    return SimpleNamespace(model=FakeModel(loss), iter=0, logger=logger,
                           message_hub=MessageHub.get_instance('asl_det_test_hook'))


def run_iteration(hook, runner, loss, logits, labels):
    hook.before_train_iter(runner, 0)
    loss(logits, labels)
    hook.after_train_iter(runner, 0)
    runner.iter += 1


def test_hook_raises_gamma_neg_when_negatives_dominate():
    loss = AsymmetricLoss(gamma_neg=4.0).train()
    hook = AdaptiveAsymmetryHook(target_gap=0.1, step_size=0.5, momentum=0.0)
    runner = make_runner(loss)
    hook.before_run(runner)
    logits = torch.full((20, 3), -4.0)  # p ~ 0.018 everywhere: negatives easy, positives poor
    labels = torch.tensor([0] * 5 + [3] * 15)
    run_iteration(hook, runner, loss, logits, labels)
    p = torch.sigmoid(torch.tensor(-4.0)).item()
    expected_gap = (1 - p) - p
    assert hook.smoothed_gap == pytest.approx(expected_gap, rel=1e-5)
    assert loss.gamma_neg == pytest.approx(4.0 + 0.5 * (expected_gap - 0.1), rel=1e-5)
    scalars = runner.message_hub.log_scalars
    assert scalars['train/asl_gamma_neg'].current() == pytest.approx(loss.gamma_neg)
    assert scalars['train/asl_pos_prob'].current() == pytest.approx(p, rel=1e-5)


def test_no_update_without_positives_and_state_round_trip():
    loss = AsymmetricLoss(gamma_neg=2.0).train()
    hook = AdaptiveAsymmetryHook(step_size=0.5)
    runner = make_runner(loss)
    hook.before_run(runner)
    run_iteration(hook, runner, loss, torch.randn(10, 3), torch.full((10,), 3))
    assert loss.gamma_neg == 2.0 and hook.num_updates == 0
    run_iteration(hook, runner, loss, torch.randn(10, 3), torch.tensor([0] * 10))
    assert hook.num_updates == 1 and loss.gamma_neg != 2.0
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)

    fresh_loss = AsymmetricLoss(gamma_neg=2.0)
    fresh = AdaptiveAsymmetryHook(step_size=0.5)
    fresh_runner = make_runner(fresh_loss)
    fresh.before_run(fresh_runner)
    fresh.after_load_checkpoint(fresh_runner, checkpoint)
    fresh_runner.iter = 2  # mmengine's resume sets the iteration after loading
    fresh.before_train(fresh_runner)
    assert fresh_loss.gamma_neg == loss.gamma_neg
    assert fresh.state_dict() == hook.state_dict()


def test_weights_loaded_without_resuming_start_from_the_configs_gamma_neg():
    checkpoint = dict(adaptive_asymmetry=dict(gamma_neg=6.5, smoothed_gap=0.3,
                                              num_updates=5000))
    loss = AsymmetricLoss(gamma_neg=4.0)
    hook = AdaptiveAsymmetryHook()
    runner = make_runner(loss)
    hook.before_run(runner)
    hook.after_load_checkpoint(runner, checkpoint)  # load_from: iteration stays 0
    hook.before_train(runner)
    assert loss.gamma_neg == 4.0 and hook.state_dict() == dict(
        gamma_neg=4.0, smoothed_gap=None, num_updates=0)


def test_statistics_hook_logs_for_focal_loss_too():
    from mmdet.models.losses import FocalLoss
    loss = FocalLoss().train()
    hook = ProbabilityStatisticsHook()
    runner = make_runner(loss)
    runner.message_hub = MessageHub.get_instance('asl_det_test_focal')
    hook.before_run(runner)
    run_iteration(hook, runner, loss, torch.randn(30, 4), torch.randint(0, 5, (30,)))
    assert 'train/asl_prob_gap' in runner.message_hub.log_scalars
    assert 'train/asl_gamma_neg' not in runner.message_hub.log_scalars
    hook.after_run(runner)
    assert not hook._handles


def test_one_score_per_element_is_measured_as_one_class():
    """GLIP and Grounding DINO call the loss with (N,) scores and (N,) one-hot targets: the
    statistics (and so the adaptive gamma_neg) see them as the (N, 1) call they are."""
    from asl_det.models.losses import probability_statistics
    loss = AsymmetricLoss().train()
    hook = ProbabilityStatisticsHook()
    runner = make_runner(loss)
    runner.message_hub = MessageHub.get_instance('asl_det_test_flat')
    hook.before_run(runner)
    logits, target = torch.randn(30), (torch.rand(30) < 0.3).long()
    run_iteration(hook, runner, loss, logits, target)
    expected = probability_statistics(logits[:, None], target[:, None].float())
    gap = (expected['neg_prob_sum'] / expected['neg_count']
           - expected['pos_prob_sum'] / expected['pos_count'])
    assert runner.message_hub.log_scalars['train/asl_prob_gap'].current() == pytest.approx(
        gap.item(), rel=1e-5)


def test_statistics_hook_outside_a_runner():
    """attach / start / finish measure a bare model's loss calls (the e2e benchmark's use)."""
    model = torch.nn.Module()
    model.loss_cls = AsymmetricLoss().train()
    hook = ProbabilityStatisticsHook()
    assert hook.attach(model) == [model.loss_cls]
    logits, labels = torch.randn(30, 4), torch.randint(0, 5, (30,))
    model.loss_cls(logits, labels)  # before start(): not measured
    hook.start()
    model.loss_cls(logits, labels)
    stats = hook.finish()
    expected = probability_statistics(logits, labels)
    assert stats['pos_count'] == expected['pos_count'].item()
    assert math.isclose(stats['pos_prob'], (expected['pos_prob_sum'] /
                                            expected['pos_count']).item(), rel_tol=1e-6)
    model.loss_cls(logits, labels)  # after finish(): not measured
    hook.start()
    assert hook.finish() is None
    hook.detach()
    hook.start()
    model.loss_cls(logits, labels)
    assert hook.finish() is None


@pytest.mark.parametrize('kwargs,match', [
    (dict(step_size=-1), 'step_size'), (dict(momentum=1.0), 'momentum'),
    (dict(gamma_neg_bounds=(3, 1)), 'gamma_neg_bounds'), (dict(interval=0), 'interval'),
    (dict(target_gap=float('nan')), 'target_gap')])
def test_invalid_hook_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptiveAsymmetryHook(**kwargs)


def test_hook_needs_an_asl_loss():
    from mmdet.models.losses import FocalLoss
    with pytest.raises(ValueError, match='AsymmetricLoss'):
        AdaptiveAsymmetryHook().before_run(make_runner(FocalLoss()))


def test_losses_that_start_at_different_gamma_neg_are_refused():
    """One adapted value drives every ASL of the model (TOOD has two losses): it would
    overwrite a second loss's configured gamma_neg."""
    runner = make_runner(AsymmetricLoss(gamma_neg=4.0))
    runner.model.bbox_head.initial_loss_cls = AsymmetricLoss(gamma_neg=1.0)
    with pytest.raises(ValueError, match=r'one gamma_neg shared by the model\'s 2 '
                                         r'AsymmetricLosses, which start at \[1\.0, 4\.0\]'):
        AdaptiveAsymmetryHook().before_run(runner)
    runner.model.bbox_head.initial_loss_cls.gamma_neg = 4.0
    hook = AdaptiveAsymmetryHook()
    hook.before_run(runner)
    assert hook.gamma_neg == 4.0
