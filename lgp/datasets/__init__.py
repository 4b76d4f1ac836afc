"""Data preparation helpers: small real data sets that run offline."""

from .digits import DIGIT_CLASSES, digit_to_rgb, split_indices, write_digits_imagenet

__all__ = ['DIGIT_CLASSES', 'digit_to_rgb', 'split_indices', 'write_digits_imagenet']
