from .adaptive_asymmetry_hook import AdaptiveAsymmetryHook, adapt_gamma_neg
from .channels_last_hook import ChannelsLastHook, to_channels_last
from .probability_statistics_hook import ProbabilityStatisticsHook, find_classification_losses

__all__ = ['AdaptiveAsymmetryHook', 'ChannelsLastHook', 'ProbabilityStatisticsHook',
           'adapt_gamma_neg', 'find_classification_losses', 'to_channels_last']
