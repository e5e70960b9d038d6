"""ASL's hooks, registered by ``import asl_det``: probability statistics and adaptive asymmetry.

The other hooks here register when their module is imported, by the tools
(:mod:`asl_det.launch.runtime`) or by a config's ``custom_imports`` that names it:
``asl_det.engine.hooks.channels_last_hook`` (``ChannelsLastHook``),
``asl_det.engine.hooks.classifier_prior_hook`` (``ClassifierPriorHook``),
``asl_det.engine.hooks.main_process_logger_hook`` (``MainProcessLoggerHook``),
``asl_det.engine.hooks.resumed_loss_check_hook`` and
``asl_det.engine.hooks.resumed_validation_hook`` (``ResumedLossCheckHook`` and
``ResumedValidationHook``, which ``tools/train.py`` adds on ``--resume``) and
``asl_det.engine.hooks.unlabelled_anchor_probability_hook`` (``UnlabelledAnchorProbabilityHook``).
"""
from .adaptive_asymmetry_hook import AdaptiveAsymmetryHook, adapt_gamma_neg
from .probability_statistics_hook import ProbabilityStatisticsHook, find_classification_losses

__all__ = ['AdaptiveAsymmetryHook', 'ProbabilityStatisticsHook', 'adapt_gamma_neg',
           'find_classification_losses']
