"""Optimiser wrappers that mmengine lacks."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast


# In mmengine's root registry, so that every scope (mmpretrain, mmseg) finds it by name.
@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Mixed precision on the CPU: the forward pass runs under ``torch.autocast('cpu', bfloat16)``.

    mmengine's ``AmpOptimWrapper`` refuses to start without an accelerator. On the CPU only bfloat16 autocast
    exists, and bfloat16 keeps float32's exponent range, so no loss scaling is needed: parameters, gradients and
    optimiser states stay in float32 as with ``AmpOptimWrapper``.

    Args:
        dtype: ``'bfloat16'`` or ``torch.bfloat16``, the only CPU autocast type.
        **kwargs: those of ``OptimWrapper`` (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype: str | torch.dtype = 'bfloat16', **kwargs) -> None:
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if dtype != torch.bfloat16:
            raise ValueError(f'CPU autocast supports only bfloat16, got {dtype}.')
        super().__init__(**kwargs)
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient accumulation context of ``OptimWrapper`` plus CPU bfloat16 autocast."""
        with super().optim_context(model), autocast(device_type='cpu', dtype=self.cast_dtype):
            yield


__all__ = ['CPUAmpOptimWrapper']
