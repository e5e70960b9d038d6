from .asymmetric_loss import (
                              ASL_DEFAULTS,
                              VARIFOCAL_REFUSAL_REASON,
                              AsymmetricLoss,
                              asymmetric_loss,
                              check_asl_params,
)
from .loss_inputs import weight_view
from .probability_statistics import probability_statistics

__all__ = ['ASL_DEFAULTS', 'VARIFOCAL_REFUSAL_REASON', 'AsymmetricLoss', 'asymmetric_loss',
           'check_asl_params', 'probability_statistics', 'weight_view']
