"""The Fashion-MNIST converter (lgp.datasets.fashion_mnist) on small IDX files written here: the IDX reader (raw and
gzip), counts, labels, pixels, the few-shot split files, and the errors for bad or missing files."""

import gzip
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lgp.datasets import FASHION_MNIST_CLASSES, IDXFormatError, read_idx, read_split, write_fashion_mnist_imagenet
from lgp.datasets.fashion_mnist import IDX_FILES
from lgp.datasets.splits import images_per_class, write_fewshot_splits

PER_CLASS = {'train': 14, 'val': 3}  # images a class in the small data set: 13 a class must be drawable from train


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file's bytes, written from the format's definition: magic 0x0800 | ndim, big-endian uint32 sizes."""
    magic = 0x0800 | array.ndim if magic is None else magic
    return struct.pack(f'>I{array.ndim}I', magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx(path: Path, data: bytes, compress: bool) -> None:
    """``data`` to ``path.gz`` gzip-compressed, or to ``path`` as is."""
    if compress:
        Path(f'{path}.gz').write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def small_fashion_mnist(src: Path, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random 28x28 images with shuffled labels in the four IDX files: train gzip-compressed, val (t10k) raw."""
    rng = np.random.default_rng(seed)
    src.mkdir(parents=True, exist_ok=True)
    data = {}
    for split, (images_name, labels_name) in IDX_FILES.items():
        labels = rng.permutation(np.repeat(np.arange(10), PER_CLASS[split])).astype(np.uint8)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        write_idx(src / images_name, idx_bytes(images), compress=split == 'train')
        write_idx(src / labels_name, idx_bytes(labels), compress=split == 'train')
        data[split] = images, labels
    return data


@pytest.fixture(scope='module')
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The small data set's IDX files and the folder written from them (seed 0)."""
    root = tmp_path_factory.mktemp('fashion')
    data = small_fashion_mnist(root / 'src')
    assert write_fashion_mnist_imagenet(root / 'out', src_dir=root / 'src') == {'train': 140, 'val': 30}
    return root, data


def test_read_idx_raw_and_gzip(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    for compress in (False, True):
        write_idx(tmp_path / f'images{compress}', idx_bytes(images), compress)
    raw, unzipped = read_idx(tmp_path / 'imagesFalse', 3), read_idx(tmp_path / 'imagesTrue.gz', 3)
    assert raw.shape == unzipped.shape == (2, 3, 5) and (raw == images).all() and (unzipped == images).all()
    (tmp_path / 'labels').write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4]))  # by hand: magic 0x801, N = 3
    assert read_idx(tmp_path / 'labels', 1).tolist() == [9, 0, 4]


def test_counts_labels_and_pixels(converted) -> None:
    root, data = converted
    out = root / 'out'
    assert (out / 'meta' / 'classes.txt').read_text().split() == list(FASHION_MNIST_CLASSES)
    assert sorted(FASHION_MNIST_CLASSES) == list(FASHION_MNIST_CLASSES)  # folders sort in label order
    for split, (images, labels) in data.items():
        samples = read_split(out / 'meta' / f'{split}.txt')
        assert [label for _, label in samples] == labels.tolist()
        assert len(list((out / split).glob('*/*.png'))) == len(labels)
        for index, (rel_path, label) in enumerate(samples):
            assert rel_path == f'{split}/{FASHION_MNIST_CLASSES[label]}/{index:05d}.png'
            with Image.open(out / rel_path) as image:
                assert (image.mode, image.size) == ('RGB', (32, 32))
                pixels = np.array(image)
            assert (pixels == pixels[..., :1]).all()  # grey in all three channels
            assert (pixels[2:30, 2:30, 0] == images[index]).all()  # every pixel as in the IDX file
            pixels[2:30, 2:30] = 0
            assert not pixels.any()  # a black border of 2 px


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_fewshot_splits_are_balanced_subsets_of_train(converted, tmp_path: Path, seed: int) -> None:
    root, _ = converted
    out = root / 'out'
    meta = tmp_path / 'meta'
    meta.mkdir()
    for name in ('train.txt', 'val.txt'):
        (meta / name).write_text((out / 'meta' / name).read_text())
    written = write_fewshot_splits(tmp_path, seed=seed)
    assert written == {'train_1percent.txt': 10, 'train_10percent.txt': 14, 'train_13perclass.txt': 130}
    train, val = set(read_split(meta / 'train.txt')), set(read_split(meta / 'val.txt'))
    for name, k_range in (('train_1percent.txt', {1}), ('train_10percent.txt', {1, 2}), ('train_13perclass.txt', {13})):
        chosen = read_split(meta / name)
        per_class = Counter(label for _, label in chosen)
        assert set(per_class) == set(range(10)) and set(per_class.values()) <= k_range, (name, per_class)
        assert set(chosen) <= train and not set(chosen) & val and len(set(chosen)) == len(chosen)
    if seed == 0:  # the converter's own files are these
        for name in written:
            assert read_split(meta / name) == read_split(out / 'meta' / name)
    size = images_per_class(meta / 'train_13perclass.txt')
    assert (size.images, size.classes, size.min, size.max, size.mean) == (130, 10, 13, 13, 13.0)


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    path = tmp_path / 'images'
    path.write_bytes(idx_bytes(images, magic=0x0801))
    with pytest.raises(IDXFormatError, match=r'images: magic number 0x00000801, expected 0x00000803 .*not an IDX file'):
        read_idx(path, 3)
    path.write_bytes(idx_bytes(images)[:-5])
    with pytest.raises(IDXFormatError, match=r'shape \(4, 28, 28\) = 3136 values, the file holds 3131; .*truncated'):
        read_idx(path, 3)
    path.write_bytes(idx_bytes(images) + b'\0')
    with pytest.raises(IDXFormatError, match='trailing bytes'):
        read_idx(path, 3)
    path.write_bytes(b'\0\0')
    with pytest.raises(IDXFormatError, match='2 bytes, too short for an IDX header'):
        read_idx(path, 1)
    path.write_bytes(idx_bytes(images)[:10])
    with pytest.raises(IDXFormatError, match='header .* cut short'):
        read_idx(path, 3)
    path.write_bytes(gzip.compress(idx_bytes(images))[:-20])
    with pytest.raises(IDXFormatError, match='broken gzip stream'):
        read_idx(path, 3)


def test_inconsistent_or_missing_files_raise_and_keep_the_output(tmp_path: Path) -> None:
    src, out = tmp_path / 'src', tmp_path / 'out'
    (out / 'train').mkdir(parents=True)
    (out / 'train' / 'kept.png').write_bytes(b'')
    small_fashion_mnist(src)
    labels_path = src / IDX_FILES['val'][1]
    for labels, message in (
        (np.zeros(29), r'holds 30 images but .*t10k-labels-idx1-ubyte 29 labels'),
        (np.full(30, 10), r't10k-labels-idx1-ubyte: label 10, Fashion-MNIST has 0\.\.9'),
    ):
        labels_path.write_bytes(idx_bytes(labels))
        with pytest.raises(IDXFormatError, match=message):
            write_fashion_mnist_imagenet(out, src_dir=src)
    (src / IDX_FILES['val'][0]).write_bytes(idx_bytes(np.zeros((30, 32, 32))))
    with pytest.raises(IDXFormatError, match=r'images of \(32, 32\) pixels, Fashion-MNIST has \(28, 28\)'):
        write_fashion_mnist_imagenet(out, src_dir=src)
    labels_path.unlink()
    with pytest.raises(
        FileNotFoundError, match=r't10k-labels-idx1-ubyte\[\.gz\]\. .*apt-get install dataset-fashion-mnist'
    ):
        write_fashion_mnist_imagenet(out, src_dir=src)
    assert (out / 'train' / 'kept.png').is_file()  # nothing is removed before the input is read
