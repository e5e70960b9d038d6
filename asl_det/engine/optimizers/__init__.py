from .divergence_guard_optim_wrapper import DivergenceGuardOptimWrapper

__all__ = ['DivergenceGuardOptimWrapper']
