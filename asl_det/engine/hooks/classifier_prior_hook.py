"""Start a detector's classifier at a given prior where its head sets the bias in init_weights.

RTMDet, TOOD, DDOD and the DETR heads initialise their classifier bias to p = 0.01 in
``init_weights``, over any ``init_cfg`` (:data:`~asl_det.config.classifier_prior.
CLASSIFIER_LAYERS`); below ASL's ``clip`` (0.05 as shipped) every negative then costs zero loss
and gradient and training starts on the positives alone. :class:`ClassifierPriorHook` sets that
bias to ``log(prior / (1 - prior))`` once the model is initialised, before the first iteration of
a run from scratch; a run resumed or loaded from a checkpoint keeps its weights.

Registered on import of this module only (not by ``import asl_det``): a config names it in
``custom_imports`` (``'asl_det.engine.hooks.classifier_prior_hook'``) and adds
``dict(type='ClassifierPriorHook', prior=0.1)`` to ``custom_hooks``, as
``configs/rtmdet_tiny_asl.py`` does. Heads with an ``init_cfg`` override take the prior there
(``bias_prob``), as ``configs/retinanet_asl.py`` does.
"""
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from asl_det.config.classifier_prior import check_prior, classifier_layers


@HOOKS.register_module()
class ClassifierPriorHook(Hook):
    """Set the classifier bias of ``model.bbox_head`` so that it predicts ``prior``, in (0, 1),
    before training from scratch (``before_train``: after ``init_weights``, before the first
    iteration). ValueError for a head whose classifier layers are not known
    (:func:`~asl_det.config.classifier_prior.classifier_layers`)."""

    priority = 'VERY_HIGH'

    def __init__(self, prior: float):
        self.prior = check_prior(prior)

    def before_train(self, runner) -> None:
        if runner.iter > 0 or getattr(runner, '_has_loaded', False):
            print_log(f'ClassifierPriorHook: weights loaded from a checkpoint are kept (prior '
                      f'{self.prior} is for a run from scratch)', logger='current')
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'bbox_head', None)
        if head is None:
            raise ValueError(f'ClassifierPriorHook: {type(model).__name__} has no bbox_head')
        if getattr(head, 'with_objectness', False):  # RTMDet's option: score = cls x obj
            raise ValueError(f'ClassifierPriorHook: {type(head).__name__} with_objectness '
                             'scores the product of its classifier and objectness: the prior of '
                             'its classifier alone is not its score\'s')
        layers = classifier_layers(head)
        bias = float(torch.logit(torch.tensor(self.prior, dtype=torch.float64)))
        with torch.no_grad():
            for layer in layers:
                layer.bias.fill_(bias)
        print_log(f'ClassifierPriorHook: the {len(layers)} classifier layer(s) of '
                  f'{type(head).__name__} start at p = {self.prior}', logger='current')
