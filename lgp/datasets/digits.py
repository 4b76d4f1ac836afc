"""scikit-learn's handwritten digits (1,797 real 8x8 grey images, 10 classes) as a small ImageNet-style folder.

The data ship inside scikit-learn, so the quick start and the tests run offline. Layout written by
:func:`write_digits_imagenet`::

    out_dir/
        train/digit_0/00000.png ...   # <n> is the image's index in ``sklearn.datasets.load_digits()``
        val/digit_0/00010.png ...
        meta/train.txt                # ``train/digit_3/00012.png 3``: path relative to out_dir, label
        meta/val.txt
        meta/classes.txt              # one class name a line, in label order
        meta/train_1percent.txt       # class-balanced 1 % / 10 % of train (lgp.datasets.splits), same format
        meta/train_10percent.txt
"""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .splits import write_fewshot_splits

DIGIT_CLASSES = tuple(f'digit_{i}' for i in range(10))
SPLITS = ('train', 'val')


def digit_to_rgb(image: np.ndarray, size: int) -> Image.Image:
    """One 8x8 digit with values 0..16 as a ``size`` x ``size`` RGB image (bicubic upsampling, 0..255)."""
    grey = np.clip(np.rint(image * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).resize((size, size), Image.Resampling.BICUBIC).convert('RGB')


def split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Deterministic stratified split of sample indices into sorted ``train`` and ``val`` index arrays."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction}.')
    train, val = train_test_split(np.arange(len(labels)), test_size=val_fraction, stratify=labels, random_state=seed)
    return {'train': np.sort(train), 'val': np.sort(val)}


def write_digits_imagenet(
    out_dir: str | Path, size: int = 32, val_fraction: float = 0.2, seed: int = 0
) -> dict[str, int]:
    """Write scikit-learn's digits as an ImageNet-style folder with annotation files (see the module docstring).

    Args:
        out_dir: destination; its ``train``, ``val`` and ``meta`` folders are replaced, anything else is kept.
        size: side of the written square RGB PNG images.
        val_fraction: fraction of each class that goes to ``val``.
        seed: seed of the stratified split; the same seed always gives the same split.

    Also writes the few-shot splits ``meta/train_{1,10}percent.txt`` drawn with ``seed``.

    Returns:
        The number of images written per split, ``{'train': ..., 'val': ...}``.
    """
    if size < 1:
        raise ValueError(f'size must be positive, got {size}.')
    digits = load_digits()
    labels = digits.target.astype(int)
    indices = split_indices(labels, val_fraction, seed)
    out_dir = Path(out_dir)
    for name in (*SPLITS, 'meta'):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    (out_dir / 'meta').mkdir(parents=True)
    (out_dir / 'meta' / 'classes.txt').write_text(''.join(f'{name}\n' for name in DIGIT_CLASSES))
    counts = {}
    for split in SPLITS:
        lines = []
        for index in indices[split]:
            label = int(labels[index])
            rel_path = f'{split}/{DIGIT_CLASSES[label]}/{index:05d}.png'
            (out_dir / rel_path).parent.mkdir(parents=True, exist_ok=True)
            digit_to_rgb(digits.images[index], size).save(out_dir / rel_path)
            lines.append(f'{rel_path} {label}\n')
        (out_dir / 'meta' / f'{split}.txt').write_text(''.join(lines))
        counts[split] = len(lines)
    write_fewshot_splits(out_dir, seed=seed)
    return counts


__all__ = ['DIGIT_CLASSES', 'digit_to_rgb', 'split_indices', 'write_digits_imagenet']
