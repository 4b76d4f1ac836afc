"""Small helpers shared by the library and the tools: progress of long offline steps, random generators restored."""

from .progress import Progress, track
from .rng import preserved_rng_states

__all__ = ['Progress', 'preserved_rng_states', 'track']
