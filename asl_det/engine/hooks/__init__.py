from .adaptive_asymmetry_hook import AdaptiveAsymmetryHook, adapt_gamma_neg
from .channels_last_hook import ChannelsLastHook, to_channels_last
from .main_process_logger_hook import MainProcessLoggerHook
from .probability_statistics_hook import ProbabilityStatisticsHook, find_classification_losses

__all__ = ['AdaptiveAsymmetryHook', 'ChannelsLastHook', 'MainProcessLoggerHook',
           'ProbabilityStatisticsHook', 'adapt_gamma_neg', 'find_classification_losses',
           'to_channels_last']
