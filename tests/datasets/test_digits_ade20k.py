"""The digits ADE20K writer (lgp.datasets.digits_ade20k): layout, file formats, labels, determinism."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lgp.datasets import write_digits_ade20k
from lgp.datasets.digits_ade20k import ADE_DIR


def read_split(root: Path, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, label map) pairs of a split of an ADE20K-layout folder, checking the files' formats."""
    pairs = []
    images = sorted((root / 'images' / split).iterdir())
    assert [p.stem for p in images] == sorted(p.stem for p in (root / 'annotations' / split).iterdir())
    for path in images:
        with Image.open(path) as image, Image.open(root / 'annotations' / split / f'{path.stem}.png') as label:
            assert (path.suffix, image.format, image.mode) == ('.jpg', 'JPEG', 'RGB')
            assert (label.format, label.mode, label.size) == ('PNG', 'L', image.size)
            pairs.append((np.asarray(image), np.asarray(label)))
    return pairs


def test_writer_layout_labels_and_determinism(tmp_path: Path) -> None:
    counts = write_digits_ade20k(tmp_path / 'a', size=48, num_train=6, num_val=3, seed=1)
    root = tmp_path / 'a' / ADE_DIR
    assert {split: c['images'] for split, c in counts.items()} == {'training': 6, 'validation': 3}
    for split, prefix in (('training', 'ADE_train'), ('validation', 'ADE_val')):
        pairs = read_split(root, split)
        names = sorted(p.name for p in (root / 'images' / split).iterdir())
        assert names == [f'{prefix}_{i:08d}.jpg' for i in range(1, len(pairs) + 1)]
        assert counts[split]['images'] <= counts[split]['digits'] <= 3 * counts[split]['images']
        for image, label in pairs:
            assert image.shape == (48, 48, 3) and label.dtype == np.uint8
            assert set(np.unique(label)) <= set(range(11)) and (label > 0).any() and (label == 0).any()
            # labelled pixels are the bright strokes of the digits on the dark background
            brightness = image.mean(axis=-1)
            assert brightness[label > 0].mean() > brightness[label == 0].mean() + 60
    write_digits_ade20k(tmp_path / 'b', size=48, num_train=6, num_val=3, seed=1)
    write_digits_ade20k(tmp_path / 'c', size=48, num_train=6, num_val=3, seed=2)
    files = sorted(p.relative_to(root) for p in root.rglob('*.*'))
    assert all((root / f).read_bytes() == (tmp_path / 'b' / ADE_DIR / f).read_bytes() for f in files)
    assert any((root / f).read_bytes() != (tmp_path / 'c' / ADE_DIR / f).read_bytes() for f in files)
    with pytest.raises(ValueError, match='size'):
        write_digits_ade20k(tmp_path / 'd', size=8)
