"""Training-loop pieces: the layer-wise lr constructor, hooks, a CPU mixed-precision wrapper, the tools' set-up."""

from .hooks import (
    EpochSeedHook,
    GradientConflictHook,
    KNNMonitorHook,
    LinearProbeInitHook,
)
from .optim_wrappers import CPUAmpOptimWrapper
from .optimizers import GraftedOptimWrapperConstructor
from .runner import StrictRunner
from .runtime import (
    AMP_DTYPES,
    check_schedule_fits,
    enable_amp,
    load_config,
    scale_lr_for_accumulation,
    setup_cpu_distributed,
)

__all__ = [
    'AMP_DTYPES',
    'CPUAmpOptimWrapper',
    'EpochSeedHook',
    'GradientConflictHook',
    'GraftedOptimWrapperConstructor',
    'KNNMonitorHook',
    'LinearProbeInitHook',
    'StrictRunner',
    'check_schedule_fits',
    'enable_amp',
    'load_config',
    'scale_lr_for_accumulation',
    'setup_cpu_distributed',
]
