from .block_mask import BlockMaskGenerator
from .loading import CorruptImageError, LGPLoadImageFromFile
from .pixel_shift import PixelShiftViews

__all__ = ['BlockMaskGenerator', 'CorruptImageError', 'LGPLoadImageFromFile', 'PixelShiftViews']
