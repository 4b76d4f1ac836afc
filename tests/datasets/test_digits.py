"""The digits writer (lgp.datasets.digits): counts, stratified deterministic split, annotation files, images,
idempotence, argument checks; the class-name check of the shared folder writer."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from lgp.datasets import DIGIT_CLASSES, split_indices, write_digits_imagenet, write_imagenet_folder


def read_annotations(root: Path, split: str) -> list[tuple[str, int]]:
    """``(relative path, label)`` pairs of ``meta/<split>.txt``."""
    pairs = []
    for line in (root / 'meta' / f'{split}.txt').read_text().splitlines():
        path, label = line.split(' ')
        pairs.append((path, int(label)))
    return pairs


def test_counts_cover_every_image_once(digits_root: Path) -> None:
    train, val = read_annotations(digits_root, 'train'), read_annotations(digits_root, 'val')
    assert (len(train), len(val)) == (1437, 360)
    indices = [int(Path(path).stem) for path, _ in train + val]
    assert sorted(indices) == list(range(1797))
    assert len(list(digits_root.glob('*/digit_*/*.png'))) == 1797


def test_split_is_stratified(digits_root: Path) -> None:
    per_class = Counter(load_digits().target.tolist())
    val_counts = Counter(label for _, label in read_annotations(digits_root, 'val'))
    assert set(val_counts) == set(range(10))
    for label, total in per_class.items():
        assert abs(val_counts[label] - 0.2 * total) <= 1, (label, val_counts[label], total)


def test_annotation_lines_match_files_and_labels(digits_root: Path) -> None:
    target = load_digits().target
    for split in ('train', 'val'):
        for path, label in read_annotations(digits_root, split):
            split_dir, class_dir, name = path.split('/')
            assert split_dir == split
            assert class_dir == DIGIT_CLASSES[label]
            assert target[int(Path(name).stem)] == label
            assert (digits_root / path).is_file()
    assert (digits_root / 'meta' / 'classes.txt').read_text().split() == list(DIGIT_CLASSES)


def test_images_are_upsampled_digits(digits_root: Path) -> None:
    digits = load_digits()
    path, _ = read_annotations(digits_root, 'val')[0]
    with Image.open(digits_root / path) as image:
        assert (image.mode, image.size) == ('RGB', (32, 32))
        pixels = np.asarray(image)
        small = np.asarray(image.convert('L').resize((8, 8), Image.Resampling.BOX), dtype=float)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    original = digits.images[int(Path(path).stem)] * (255.0 / 16.0)
    assert np.corrcoef(small.ravel(), original.ravel())[0, 1] > 0.9


def test_same_seed_same_split_other_seed_other_split(tmp_path: Path) -> None:
    labels = load_digits().target
    first, again, other = (split_indices(labels, 0.2, seed) for seed in (0, 0, 1))
    assert np.array_equal(first['val'], again['val']) and np.array_equal(first['train'], again['train'])
    assert not np.array_equal(first['val'], other['val'])
    counts = write_digits_imagenet(tmp_path / 'a', size=16, seed=1)
    assert counts == {'train': 1437, 'val': 360}
    assert (tmp_path / 'a' / 'meta' / 'val.txt').read_text().split()[0::2] == [
        f'val/{DIGIT_CLASSES[labels[i]]}/{i:05d}.png' for i in other['val']
    ]


def test_rewrite_is_clean(tmp_path: Path) -> None:
    root = tmp_path / 'digits'
    write_digits_imagenet(root, size=8, seed=0)
    stale = root / 'train' / 'digit_0' / 'stale.png'
    stale.write_bytes(b'')
    (root / 'README').write_text('kept')
    first_val = (root / 'meta' / 'val.txt').read_text()
    write_digits_imagenet(root, size=8, seed=1)
    write_digits_imagenet(root, size=8, seed=0)
    assert not stale.exists()
    assert (root / 'README').read_text() == 'kept'
    assert (root / 'meta' / 'val.txt').read_text() == first_val
    assert len(list(root.glob('*/digit_*/*.png'))) == 1797


def test_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='val_fraction'):
        write_digits_imagenet(tmp_path, val_fraction=1.0)
    with pytest.raises(ValueError, match='size'):
        write_digits_imagenet(tmp_path, size=0)


def test_class_names_must_sort_in_label_order(tmp_path: Path) -> None:
    image = Image.new('RGB', (4, 4))
    with pytest.raises(ValueError, match=r"\['dog', 'cat'\] do not sort in label order"):
        write_imagenet_folder(tmp_path, ['dog', 'cat'], {'train': [(0, 0, image)]})
    assert not any(tmp_path.iterdir())  # refused before anything is written
