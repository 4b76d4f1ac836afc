from .gradient_conflict_hook import GradientConflictHook

__all__ = ['GradientConflictHook']
