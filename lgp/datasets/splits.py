"""Labelled subsets of an ImageNet-style folder in the split-file format of the original Layer Grafted release.

A split file holds one image a line, ``<path> <label>``, e.g. ``train/n01440764/n01440764_10026.JPEG 0``: the path
is relative to the data root (the folder holding ``train/``), the label is the index of the class folder in sorted
order. This is the format of the original ``split/imagenet/imagenet_1percent.txt`` (12,811 images) and of the
digits' ``meta/*.txt``. mmpretrain reads it as it is::

    dict(type=CustomDataset, data_root='data/imagenet', ann_file='meta/imagenet_1percent.txt', data_prefix='')

(``ImageNet`` works the same way; ``with_label=True`` is the default). ``data_prefix=''`` matters: with
``ImageNet(split='train')`` the prefix would become ``train/`` and the paths ``train/train/...``. mmpretrain
splits each line at its last space and fails on blank lines; :func:`read_split` skips blank lines and
:func:`write_split` never writes one, so ``write_split(path, read_split(path))`` cleans a file for mmpretrain.

Symbols: K classes, n_k images of class k, N = sum_k n_k, q_k the images drawn from class k.
"""

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

# mmpretrain's ImageNet extensions (case-insensitive), the ones ``CustomDataset`` would accept.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')
# The few-shot split files a data folder's converter writes, with their size (the arguments of class_quotas). ImageNet's
# 1 % has 12-13 labelled images a class; 1 % of a small training set has far fewer, so a split of 13 a class measures
# what the paper's 1 % column does.
FEWSHOT_SPLITS = {
    'train_1percent.txt': {'percent': 1.0},
    'train_10percent.txt': {'percent': 10.0},
    'train_13perclass.txt': {'per_class': 13},
}

Sample = tuple[str, int]


class SplitFormatError(ValueError):
    """A split-file line that is not ``<path> <label>``; names the file and the line."""


def parse_split_line(line: str, where: str = '<string>') -> Sample | None:
    """``'train/n01/n01_1.JPEG 3'`` -> ``('train/n01/n01_1.JPEG', 3)``; None for a blank line.

    Raises:
        SplitFormatError: naming ``where`` (``file:line``) and the offending text.
    """
    text = line.strip()
    if not text:
        return None
    parts = text.rsplit(' ', 1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].isdigit():
        raise SplitFormatError(
            f'{where}: malformed split line {text!r}; expected "<path> <label>" such as '
            '"train/n01440764/n01440764_10026.JPEG 0" (path relative to the data root, label an integer >= 0).'
        )
    return parts[0].strip(), int(parts[1])


def read_split(path: str | Path) -> list[Sample]:
    """The ``(path, label)`` pairs of a split file, in file order; blank lines are skipped."""
    samples = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        sample = parse_split_line(line, where=f'{path}:{number}')
        if sample is not None:
            samples.append(sample)
    return samples


def write_split(path: str | Path, samples: Iterable[Sample]) -> int:
    """Write ``(path, label)`` pairs one a line, in the given order; returns the number of lines.

    Paths containing a newline, or labels that are not integers >= 0, are refused (the file would not read back).
    """
    lines = []
    for rel_path, label in samples:
        if '\n' in rel_path or '\r' in rel_path or not rel_path.strip():
            raise SplitFormatError(f'Cannot write the image path {rel_path!r} in a split file.')
        if isinstance(label, bool) or int(label) != label or label < 0:
            raise SplitFormatError(f'Label of {rel_path!r} must be an integer >= 0, got {label!r}.')
        lines.append(f'{rel_path} {int(label)}\n')
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(''.join(lines))
    return len(lines)


def scan_image_folder(root: str | Path, split: str = 'train') -> tuple[list[Sample], list[str]]:
    """Every image of ``root/<split>/<class>/``, as ``(f'{split}/{class}/{file}', label)`` sorted by path.

    Labels index the class folders in sorted order (ImageNet: sorted wnids), as in the original split files.

    Returns:
        The samples and the K class names in label order.
    """
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise FileNotFoundError(
            f'{split_dir} is not a folder: expected an ImageNet-style ROOT/{split}/<class>/<image>.'
        )
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    if not classes:
        raise FileNotFoundError(f'{split_dir} holds no class folders.')
    samples = []
    for label, name in enumerate(classes):
        files = sorted(f.name for f in (split_dir / name).iterdir() if f.suffix.lower() in IMG_EXTENSIONS)
        samples += [(f'{split}/{name}/{file}', label) for file in files]
    return samples, classes


def _group_by_class(samples: Sequence[Sample]) -> dict[int, list[str]]:
    """label -> sorted unique paths (so the draw does not depend on the input order)."""
    groups: dict[int, set[str]] = {}
    for rel_path, label in samples:
        groups.setdefault(int(label), set()).add(rel_path)
    return {label: sorted(paths) for label, paths in sorted(groups.items())}


def class_quotas(
    counts: dict[int, int], percent: float | None = None, per_class: int | None = None, seed: int = 0
) -> dict[int, int]:
    """How many images q_k to draw from each class k (counts: k -> n_k). Give exactly one of the two.

    - ``per_class=q``: q_k = q for every class.
    - ``percent=p``: T = round(p / 100 * N) images in all, spread as evenly as the classes allow: every class gets
      floor(T / K) and T mod K classes, drawn with ``seed``, one more; at least 1 per class. This is the structure
      of the SimCLR / Layer Grafted 1 % ImageNet list (12,811 = 811 x 13 + 189 x 12).

    Raises:
        ValueError: for a class with fewer than q_k images (naming it) or bad arguments.
    """
    if (percent is None) == (per_class is None):
        raise ValueError('Give exactly one of percent= and per_class=.')
    if not counts:
        raise ValueError('No samples to split.')
    if per_class is not None:
        if isinstance(per_class, bool) or int(per_class) != per_class or per_class < 1:
            raise ValueError(f'per_class must be an integer >= 1, got {per_class!r}.')
        quotas = dict.fromkeys(counts, int(per_class))
    else:
        if not 0 < percent <= 100:
            raise ValueError(f'percent must be in (0, 100], got {percent!r}.')
        total = max(round(percent / 100 * sum(counts.values())), len(counts))
        base, extra = divmod(total, len(counts))
        lucky = set(random.Random(f'quota-{seed}').sample(sorted(counts), extra))
        quotas = {label: base + (label in lucky) for label in counts}
    short = {label: (quotas[label], n) for label, n in counts.items() if n < quotas[label]}
    if short:
        detail = ', '.join(f'class {label}: {q} wanted, {n} available' for label, (q, n) in sorted(short.items()))
        raise ValueError(f'Not enough images for a class-balanced split ({detail}).')
    return quotas


def make_class_balanced_split(
    samples: Sequence[Sample], percent: float | None = None, per_class: int | None = None, seed: int = 0
) -> list[Sample]:
    """Draw a class-balanced subset: q_k images of each class k (see :func:`class_quotas`), without replacement.

    Deterministic for a seed and independent of the order of ``samples``; another seed draws other images.

    Returns:
        The chosen ``(path, label)`` pairs sorted by path.
    """
    groups = _group_by_class(samples)
    quotas = class_quotas({k: len(v) for k, v in groups.items()}, percent, per_class, seed)
    chosen = []
    for label, paths in groups.items():
        rng = random.Random(f'class-{seed}-{label}')
        chosen += [(p, label) for p in rng.sample(paths, quotas[label])]
    return sorted(chosen)


def write_fewshot_splits(root: str | Path, seed: int = 0, train_file: str = 'meta/train.txt') -> dict[str, int]:
    """Write the class-balanced subsets of the train set named in ``FEWSHOT_SPLITS`` to ``root/meta/``.

    ``train_1percent.txt`` and ``train_10percent.txt`` hold 1 % and 10 % of all images (1 % of the digits' 1,437 is
    14: one or two a class); ``train_13perclass.txt`` holds 13 a class, as many as ImageNet's 1 %.

    Returns:
        Lines written per file name.
    """
    root = Path(root)
    samples = read_split(root / train_file)
    return {
        name: write_split(root / 'meta' / name, make_class_balanced_split(samples, **size, seed=seed))
        for name, size in FEWSHOT_SPLITS.items()
    }


class SplitSize(NamedTuple):
    """Labelled images of a split file: ``images`` = N in all over ``classes`` = K, and min / max / mean of n_k."""

    images: int
    classes: int
    min: int
    max: int
    mean: float

    def __str__(self) -> str:
        spread = f'{self.min}' if self.min == self.max else f'{self.min}-{self.max} (mean {self.mean:.1f})'
        return f'{self.images} images, {spread} a class over {self.classes} classes'


def images_per_class(path: str | Path, num_classes: int | None = None) -> SplitSize:
    """How many images a split file holds per class.

    Args:
        path: split file (``<path> <label>`` lines).
        num_classes: K; classes 0..K-1 that the file lacks then count as n_k = 0. Without it, K is the number of
            labels the file holds.
    """
    counts = Counter(label for _, label in read_split(path))
    if num_classes is not None:
        if max(counts, default=-1) >= num_classes:
            raise ValueError(f'{path} holds label {max(counts)}, but num_classes is {num_classes}.')
        counts.update(dict.fromkeys(range(num_classes), 0))
    if not counts:
        raise ValueError(f'{path} holds no images.')
    n = list(counts.values())
    return SplitSize(images=sum(n), classes=len(n), min=min(n), max=max(n), mean=sum(n) / len(n))


__all__ = [
    'FEWSHOT_SPLITS',
    'IMG_EXTENSIONS',
    'SplitFormatError',
    'SplitSize',
    'class_quotas',
    'images_per_class',
    'make_class_balanced_split',
    'parse_split_line',
    'read_split',
    'scan_image_folder',
    'write_fewshot_splits',
    'write_split',
]
