from .loss_comparison import ComparisonSettings, run_comparison

__all__ = ['ComparisonSettings', 'run_comparison']
