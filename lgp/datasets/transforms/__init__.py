from .block_mask import BlockMaskGenerator
from .fast_decode import DecodeRandomResizedCrop, EncodedImage, LoadEncodedImage
from .grayscale import LGPRandomGrayscale
from .loading import CorruptImageError, LGPLoadImageFromFile
from .pixel_shift import PixelShiftViews

__all__ = [
    'BlockMaskGenerator',
    'CorruptImageError',
    'DecodeRandomResizedCrop',
    'EncodedImage',
    'LGPLoadImageFromFile',
    'LGPRandomGrayscale',
    'LoadEncodedImage',
    'PixelShiftViews',
]
