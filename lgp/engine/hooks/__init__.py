from .compile_loss_hook import CompileLossHook, compile_loss
from .epoch_seed_hook import EpochSeedHook
from .gradient_conflict_hook import GradientConflictHook
from .knn_monitor_hook import KNNMonitorHook
from .linear_probe_init_hook import LinearProbeInitHook

__all__ = [
    'CompileLossHook',
    'EpochSeedHook',
    'GradientConflictHook',
    'KNNMonitorHook',
    'LinearProbeInitHook',
    'compile_loss',
]
