"""Data preparation helpers: small real data sets that run offline."""

from .digits import DIGIT_CLASSES, digit_to_rgb, split_indices, write_digits_imagenet
from .digits_ade20k import DigitsADE20KDataset, write_digits_ade20k
from .splits import (
    SplitFormatError,
    make_class_balanced_split,
    read_split,
    scan_image_folder,
    write_fewshot_splits,
    write_split,
)

__all__ = [
    'DIGIT_CLASSES',
    'SplitFormatError',
    'DigitsADE20KDataset',
    'digit_to_rgb',
    'split_indices',
    'write_digits_ade20k',
    'write_digits_imagenet',
    'make_class_balanced_split',
    'read_split',
    'scan_image_folder',
    'write_fewshot_splits',
    'write_split',
]
