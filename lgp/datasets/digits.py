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
        meta/train_13perclass.txt     # 13 images a class, as many as ImageNet's 1 %

:func:`write_imagenet_folder` writes this layout for any labelled images (Fashion-MNIST uses it too).
"""

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ..utils import track
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


def write_imagenet_folder(
    out_dir: str | Path,
    classes: Sequence[str],
    splits: Mapping[str, Iterable[tuple[int, int, Image.Image]]],
    seed: int = 0,
) -> dict[str, int]:
    """Write labelled images in the layout of the module docstring, with ``meta/classes.txt`` and the few-shot splits.

    Args:
        out_dir: destination; its ``meta`` folder and the folders of ``splits`` are replaced, anything else is kept.
        classes: the K class names in label order; the folder names. They must sort in label order, as readers
            that scan the class folders (mmpretrain without an ``ann_file``, ``make_split.py``) number them so.
        splits: split name (``train``, ``val``) -> ``(index, label, image)`` triples, written to
            ``<split>/<classes[label]>/<index:05d>.png`` and listed in ``meta/<split>.txt`` in the given order.
        seed: seed of the few-shot splits drawn from ``meta/train.txt`` (``splits.write_fewshot_splits``).

    Returns:
        The number of images written per split.

    Raises:
        ValueError: for class names that do not sort in label order.
    """
    if list(classes) != sorted(classes):
        raise ValueError(
            f'Class names {list(classes)} do not sort in label order; readers that scan the folders would number '
            'them otherwise. Prefix them with the label, e.g. "0_cat", "1_dog".'
        )
    out_dir = Path(out_dir)
    for name in (*splits, 'meta'):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    (out_dir / 'meta').mkdir(parents=True)
    (out_dir / 'meta' / 'classes.txt').write_text(''.join(f'{name}\n' for name in classes))
    counts = {}
    for split, items in splits.items():
        for name in classes:
            (out_dir / split / name).mkdir(parents=True)
        lines = []
        for index, label, image in items:
            rel_path = f'{split}/{classes[label]}/{index:05d}.png'
            image.save(out_dir / rel_path)
            lines.append(f'{rel_path} {label}\n')
        (out_dir / 'meta' / f'{split}.txt').write_text(''.join(lines))
        counts[split] = len(lines)
    write_fewshot_splits(out_dir, seed=seed)
    return counts


def write_digits_imagenet(
    out_dir: str | Path, size: int = 32, val_fraction: float = 0.2, seed: int = 0
) -> dict[str, int]:
    """Write scikit-learn's digits as an ImageNet-style folder with annotation files (see the module docstring).

    Args:
        out_dir: destination; its ``train``, ``val`` and ``meta`` folders are replaced, anything else is kept.
        size: side of the written square RGB PNG images.
        val_fraction: fraction of each class that goes to ``val``.
        seed: seed of the stratified split; the same seed always gives the same split.

    Also writes the few-shot splits ``meta/train_{1,10}percent.txt`` and ``meta/train_13perclass.txt`` drawn with
    ``seed``.

    Returns:
        The number of images written per split, ``{'train': ..., 'val': ...}``.
    """
    if size < 1:
        raise ValueError(f'size must be positive, got {size}.')
    digits = load_digits()
    labels = digits.target.astype(int)
    indices = split_indices(labels, val_fraction, seed)
    splits = {
        split: (
            (int(i), int(labels[i]), digit_to_rgb(digits.images[i], size))
            for i in track(indices[split], f'writing {split}')
        )
        for split in SPLITS
    }
    return write_imagenet_folder(out_dir, DIGIT_CLASSES, splits, seed=seed)


__all__ = ['DIGIT_CLASSES', 'digit_to_rgb', 'split_indices', 'write_digits_imagenet', 'write_imagenet_folder']
