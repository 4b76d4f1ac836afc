"""A tiny ADE20K-layout semantic segmentation data set made of scikit-learn's real handwritten digits.

Each sample is a ``size`` x ``size`` canvas (a dark, smoothly shaded and slightly noisy background) with 1 to
``max_digits`` digits of :func:`sklearn.datasets.load_digits`, each upsampled to a random side, tinted with a random
bright colour and placed at a random position without overlapping the others. The annotation follows ADE20K's
convention: 0 is "other" (the background, which ``reduce_zero_label=True`` turns into the ignore index 255) and the
pixels of digit d, where its upsampled intensity exceeds ``threshold``, are labelled d + 1. Train and validation
samples are drawn from disjoint, stratified halves of the 1,797 digits. Layout written by
:func:`write_digits_ade20k`, as mmseg's ``ADE20KDataset`` expects::

    out_dir/ADEChallengeData2016/
        images/training/ADE_train_00000001.jpg ...        # RGB JPEG
        images/validation/ADE_val_00000001.jpg ...
        annotations/training/ADE_train_00000001.png ...   # uint8, one channel, values {0} U {1..10}
        annotations/validation/ADE_val_00000001.png ...
"""

import shutil
from pathlib import Path

import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image
from sklearn.datasets import load_digits

from ..utils import track
from .digits import DIGIT_CLASSES, split_indices

ADE_DIR = 'ADEChallengeData2016'
# split folder -> (file name prefix, default number of samples)
SPLITS = {'training': ('ADE_train', 200), 'validation': ('ADE_val', 50)}
# label of digit d in the annotation PNGs is d + 1; 0 is "other", as ADE20K's unlabelled pixels
BACKGROUND_LABEL = 0
DIGIT_PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)


@DATASETS.register_module()
class DigitsADE20KDataset(BaseSegDataset):
    """mmseg's ``ADE20KDataset`` for the digits written by :func:`write_digits_ade20k`: 10 classes, not 150.

    Same files and label convention as ADE20K (``.jpg`` images, ``.png`` maps, label 0 reduced to the ignore index
    255 by ``reduce_zero_label``), so label d + 1 in a file is class d (``digit_d``) in training and evaluation.
    """

    METAINFO = dict(classes=DIGIT_CLASSES, palette=[list(c) for c in DIGIT_PALETTE])

    def __init__(
        self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', reduce_zero_label: bool = True, **kwargs
    ) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label, **kwargs
        )


def upsample_digit(image: np.ndarray, side: int) -> np.ndarray:
    """An 8x8 digit with values 0..16 as a ``side`` x ``side`` float intensity map in [0, 1] (bicubic)."""
    grey = Image.fromarray(np.clip(image / 16.0, 0.0, 1.0).astype(np.float32))  # mode 'F'
    return np.clip(np.asarray(grey.resize((side, side), Image.Resampling.BICUBIC)), 0.0, 1.0)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dark RGB canvas (size, size, 3) in [0, 1]: a random linear colour gradient plus faint pixel noise."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    yy, xx = np.meshgrid(ramp, ramp, indexing='ij')
    direction = rng.uniform(-1.0, 1.0, size=2)
    shade = (direction[0] * yy + direction[1] * xx)[..., None]
    base = rng.uniform(0.02, 0.2, size=3) + rng.uniform(0.0, 0.15, size=3) * shade
    return np.clip(base + rng.normal(0.0, 0.03, size=(size, size, 3)), 0.0, 1.0)


def _place(rng: np.random.Generator, size: int, side: int, boxes: list, tries: int = 20) -> tuple[int, int] | None:
    """Top-left corner of a ``side`` x ``side`` box inside the canvas that overlaps none of ``boxes``, or None."""
    for _ in range(tries):
        y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        if all(y + side <= by or by + bs <= y or x + side <= bx or bx + bs <= x for by, bx, bs in boxes):
            return y, x
    return None


def compose_sample(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    pool: np.ndarray,
    size: int,
    max_digits: int,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One canvas: (RGB uint8 image (size, size, 3), uint8 label map (size, size), number of digits placed).

    Digits are drawn from ``pool`` (indices into ``images`` / ``labels``) with sides between size / 4 and size / 2.
    """
    canvas = background(rng, size)
    label_map = np.full((size, size), BACKGROUND_LABEL, dtype=np.uint8)
    boxes: list[tuple[int, int, int]] = []
    for _ in range(int(rng.integers(1, max_digits + 1))):
        index = int(rng.choice(pool))
        side = int(rng.integers(max(size // 4, 4), max(size // 2, 4) + 1))
        corner = _place(rng, size, side, boxes)
        if corner is None:
            continue
        y, x = corner
        alpha = upsample_digit(images[index], side)[..., None]
        colour = rng.uniform(0.6, 1.0, size=3)
        region = canvas[y : y + side, x : x + side]
        canvas[y : y + side, x : x + side] = region * (1.0 - alpha) + colour * alpha
        label_map[y : y + side, x : x + side][alpha[..., 0] > threshold] = int(labels[index]) + 1
        boxes.append((y, x, side))
    return np.rint(canvas * 255.0).astype(np.uint8), label_map, len(boxes)


def write_digits_ade20k(
    out_dir: str | Path,
    size: int = 64,
    num_train: int = SPLITS['training'][1],
    num_val: int = SPLITS['validation'][1],
    max_digits: int = 3,
    threshold: float = 0.5,
    seed: int = 0,
) -> dict[str, dict[str, int]]:
    """Write the digits segmentation set in ADE20K's layout under ``out_dir/ADEChallengeData2016``.

    Args:
        out_dir: destination; its ``ADEChallengeData2016`` folder is replaced, anything else is kept.
        size: side of the square canvases (>= 16).
        num_train: number of training samples.
        num_val: number of validation samples.
        max_digits: each canvas holds 1 to ``max_digits`` digits (fewer if they do not fit without overlapping).
        threshold: upsampled intensity in [0, 1] above which a pixel belongs to its digit.
        seed: the same seed writes the same files.

    Returns:
        ``{'training': {'images': n, 'digits': k}, 'validation': {...}}``.
    """
    if size < 16:
        raise ValueError(f'size must be at least 16, got {size}.')
    if max_digits < 1 or num_train < 1 or num_val < 1:
        raise ValueError(
            f'max_digits, num_train and num_val must be positive, got {max_digits}, {num_train}, {num_val}.'
        )
    if not 0.0 < threshold < 1.0:
        raise ValueError(f'threshold must be in (0, 1), got {threshold}.')
    digits = load_digits()
    labels = digits.target.astype(int)
    halves = split_indices(labels, 0.5, seed)  # disjoint digits for training and validation
    pools = {'training': halves['train'], 'validation': halves['val']}
    root = Path(out_dir) / ADE_DIR
    shutil.rmtree(root, ignore_errors=True)
    counts = {}
    for k, (split, num) in enumerate((('training', num_train), ('validation', num_val))):
        rng = np.random.default_rng([seed, k])
        prefix = SPLITS[split][0]
        (root / 'images' / split).mkdir(parents=True)
        (root / 'annotations' / split).mkdir(parents=True)
        num_digits = 0
        for i in track(range(1, num + 1), f'writing {split}'):
            image, label_map, placed = compose_sample(
                rng, digits.images, labels, pools[split], size, max_digits, threshold
            )
            Image.fromarray(image).save(root / 'images' / split / f'{prefix}_{i:08d}.jpg', quality=95)
            Image.fromarray(label_map).save(root / 'annotations' / split / f'{prefix}_{i:08d}.png')
            num_digits += placed
        counts[split] = {'images': num, 'digits': num_digits}
    return counts


__all__ = ['ADE_DIR', 'DIGIT_PALETTE', 'DigitsADE20KDataset', 'compose_sample', 'upsample_digit', 'write_digits_ade20k']
