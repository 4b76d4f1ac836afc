from .loading import CorruptImageError, LGPLoadImageFromFile
from .pixel_shift import PixelShiftViews

__all__ = ['CorruptImageError', 'LGPLoadImageFromFile', 'PixelShiftViews']
