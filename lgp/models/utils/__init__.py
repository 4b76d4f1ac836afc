"""Building blocks shared by the backbone and the algorithms."""

from .partial_block import has_standard_parts, partial_block

__all__ = ['has_standard_parts', 'partial_block']
