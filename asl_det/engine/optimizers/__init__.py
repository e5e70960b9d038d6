"""Optimizer wrappers for training, not imported by ``import asl_det``: each registers when its
module is imported, by the tools (:mod:`asl_det.launch.runtime`) or by a config that names it::

    custom_imports = dict(imports=['asl_det',
                                   'asl_det.engine.optimizers.divergence_guard_optim_wrapper'])
    optim_wrapper = dict(type='DivergenceGuardOptimWrapper', ...)

``asl_det.engine.optimizers.cpu_autocast_optim_wrapper`` (``CPUAutocastOptimWrapper``) likewise.
"""
