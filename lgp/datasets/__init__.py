"""Data preparation helpers: small real data sets that run offline, a check of a config's input paths, and data
loading seeded per sample."""

from .digits import DIGIT_CLASSES, digit_to_rgb, split_indices, write_digits_imagenet
from .digits_ade20k import DigitsADE20KDataset, write_digits_ade20k
from .preflight import MissingInputError, check_input_paths
from .seeded_sampling import SeededDataset, SeededInfiniteSampler, SeededSampler, sample_seed
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
    'MissingInputError',
    'SeededDataset',
    'SeededInfiniteSampler',
    'SeededSampler',
    'check_input_paths',
    'digit_to_rgb',
    'split_indices',
    'write_digits_ade20k',
    'write_digits_imagenet',
    'make_class_balanced_split',
    'read_split',
    'sample_seed',
    'scan_image_folder',
    'write_fewshot_splits',
    'write_split',
]
