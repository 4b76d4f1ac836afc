"""Data preparation helpers: small real data sets (the digits offline, Fashion-MNIST from its Debian package), split
files, a check of a config's input paths, and data loading seeded per sample. Importing it registers lgp's
transforms (:mod:`lgp.datasets.transforms`) with mmpretrain's ``TRANSFORMS``."""

from . import transforms
from .digits import DIGIT_CLASSES, digit_to_rgb, split_indices, write_digits_imagenet, write_imagenet_folder
from .digits_ade20k import DigitsADE20KDataset, write_digits_ade20k
from .fashion_mnist import FASHION_MNIST_CLASSES, IDXFormatError, read_idx, write_fashion_mnist_imagenet
from .preflight import MissingInputError, check_input_paths
from .seeded_sampling import SeededDataset, SeededInfiniteSampler, SeededSampler, sample_seed
from .splits import (
    SplitFormatError,
    SplitSize,
    images_per_class,
    make_class_balanced_split,
    read_split,
    scan_image_folder,
    write_fewshot_splits,
    write_split,
)

__all__ = [
    'DIGIT_CLASSES',
    'DigitsADE20KDataset',
    'FASHION_MNIST_CLASSES',
    'IDXFormatError',
    'MissingInputError',
    'SeededDataset',
    'SeededInfiniteSampler',
    'SeededSampler',
    'SplitFormatError',
    'SplitSize',
    'check_input_paths',
    'digit_to_rgb',
    'images_per_class',
    'make_class_balanced_split',
    'read_idx',
    'read_split',
    'sample_seed',
    'scan_image_folder',
    'split_indices',
    'transforms',
    'write_digits_ade20k',
    'write_digits_imagenet',
    'write_fashion_mnist_imagenet',
    'write_fewshot_splits',
    'write_imagenet_folder',
    'write_split',
]
