from .epoch_seed_hook import EpochSeedHook
from .gradient_conflict_hook import GradientConflictHook

__all__ = ['EpochSeedHook', 'GradientConflictHook']
