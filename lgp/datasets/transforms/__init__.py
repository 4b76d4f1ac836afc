from .loading import CorruptImageError, LGPLoadImageFromFile

__all__ = ['CorruptImageError', 'LGPLoadImageFromFile']
