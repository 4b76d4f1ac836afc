from .loading import CorruptImageError, LoadImageFromFile

__all__ = ['CorruptImageError', 'LoadImageFromFile']
