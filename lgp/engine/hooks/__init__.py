from .epoch_seed_hook import EpochSeedHook
from .gradient_conflict_hook import GradientConflictHook
from .linear_probe_init_hook import LinearProbeInitHook

__all__ = ['EpochSeedHook', 'GradientConflictHook', 'LinearProbeInitHook']
