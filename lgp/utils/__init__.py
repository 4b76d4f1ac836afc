"""Small helpers shared by the library and the tools: progress of long offline steps, random generators and module
modes restored."""

from .modes import eval_mode
from .progress import Progress, track
from .rng import preserved_rng_states

__all__ = ['Progress', 'eval_mode', 'preserved_rng_states', 'track']
