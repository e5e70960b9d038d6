from .asymmetric_loss import AsymmetricLoss, asymmetric_loss, check_asl_params
from .probability_statistics import probability_statistics

__all__ = ['AsymmetricLoss', 'asymmetric_loss', 'check_asl_params', 'probability_statistics']
