"""Training-loop pieces: the layer-wise lr constructor, hooks, a CPU mixed-precision wrapper, the tools' set-up."""

from .hooks import (
    CompileLossHook,
    EpochSeedHook,
    GradientConflictHook,
    KNNMonitorHook,
    LinearProbeInitHook,
    compile_loss,
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
    'CompileLossHook',
    'EpochSeedHook',
    'GradientConflictHook',
    'GraftedOptimWrapperConstructor',
    'KNNMonitorHook',
    'LinearProbeInitHook',
    'StrictRunner',
    'check_schedule_fits',
    'compile_loss',
    'enable_amp',
    'load_config',
    'scale_lr_for_accumulation',
    'setup_cpu_distributed',
]
