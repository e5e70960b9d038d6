from .asymmetric_loss import (
                              ASL_DEFAULTS,
                              AsymmetricLoss,
                              asymmetric_loss,
                              check_asl_params,
                              py_asymmetric_loss,
)
from .loss_inputs import weight_view
from .probability_statistics import probability_statistics

__all__ = ['ASL_DEFAULTS', 'AsymmetricLoss', 'asymmetric_loss', 'check_asl_params',
           'probability_statistics', 'py_asymmetric_loss', 'weight_view']
