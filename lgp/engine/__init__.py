"""Training-loop pieces: the layer-wise lr constructor, hooks, a CPU mixed-precision wrapper, the tools' set-up."""

from .hooks import EpochSeedHook, GradientConflictHook
from .optim_wrappers import CPUAmpOptimWrapper
from .optimizers import GraftedOptimWrapperConstructor
from .runner import StrictRunner
from .runtime import AMP_DTYPES, enable_amp, setup_cpu_distributed

__all__ = [
    'EpochSeedHook',
    'StrictRunner',
    'AMP_DTYPES',
    'CPUAmpOptimWrapper',
    'GradientConflictHook',
    'GraftedOptimWrapperConstructor',
    'enable_amp',
    'setup_cpu_distributed',
]
