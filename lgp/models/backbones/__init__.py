from .vit import ARCHS, LGPViT, random_masking

__all__ = ['ARCHS', 'LGPViT', 'random_masking']
