"""bf16 autocast for CPU training: the mixed precision mmengine's AmpOptimWrapper refuses on CPU.

Registered on import of this module only (not by ``import asl_det``); a config that uses it
names the module: ``custom_imports = dict(imports=['asl_det',
'asl_det.engine.optimizers.cpu_autocast_optim_wrapper'])`` and
``optim_wrapper = dict(type='CPUAutocastOptimWrapper', optimizer=..., clip_grad=...)``.
"""
from contextlib import contextmanager

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper
from torch import nn

DTYPES = ('bfloat16', 'float16')


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward pass (``optim_context``) runs under
    ``torch.autocast('cpu', dtype)``: convolutions and matrix products in bf16 (AMX / AVX-512
    BF16 kernels where the CPU has them), weights, gradients and optimizer state in fp32. bf16 has
    fp32's exponent range, so no loss scaling is needed; losses that compute in fp32 (ASL does,
    whatever its input dtype) stay exact.

    Args:
        dtype: 'bfloat16' (default) or 'float16' (CPU fp16 autocast, without a loss scaler).
        **kwargs: as :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}')
        super().__init__(*args, **kwargs)
        self.dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.dtype):
            yield
