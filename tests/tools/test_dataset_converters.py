"""The dataset converters (tools/dataset_converters): digits_to_imagenet.py writes and reports the digits,
fashion_mnist_to_imagenet.py converts IDX files and reports its splits, make_split.py draws a class-balanced split of an
ImageNet-style folder."""

import struct
from pathlib import Path

import numpy as np
from PIL import Image

from lgp.datasets import make_class_balanced_split, read_split, scan_image_folder


def test_digits_to_imagenet_writes_and_reports(tmp_path: Path, run_tool) -> None:
    result = run_tool(['tools/dataset_converters/digits_to_imagenet.py', str(tmp_path / 'd'), '--size', '24'])
    assert 'train: 1437 images' in result.stdout and 'val: 360 images' in result.stdout
    with Image.open(next((tmp_path / 'd' / 'train').glob('digit_*/*.png'))) as image:
        assert image.size == (24, 24)


def test_fashion_mnist_to_imagenet_converts_and_reports(tmp_path: Path, run_tool) -> None:
    src, out = tmp_path / 'idx', tmp_path / 'fashion'
    src.mkdir()
    labels = np.arange(150, dtype=np.uint8) % 10  # 15 a class
    for prefix, n in (('train', 150), ('t10k', 20)):  # IDX files: magic 0x0800 | ndim, big-endian sizes, the bytes
        (src / f'{prefix}-images-idx3-ubyte').write_bytes(struct.pack('>4I', 0x803, n, 28, 28) + bytes(n * 784))
        (src / f'{prefix}-labels-idx1-ubyte').write_bytes(struct.pack('>2I', 0x801, n) + labels[:n].tobytes())
    result = run_tool(['tools/dataset_converters/fashion_mnist_to_imagenet.py', str(out), '--src', str(src)])
    assert 'train: 150 images' in result.stdout and 'val: 20 images' in result.stdout
    assert 'train_13perclass.txt: 130 images, 13 a class over 10 classes' in result.stdout
    assert 'val.txt: 20 images, 2 a class over 10 classes' in result.stdout
    assert len(read_split(out / 'meta' / 'train_13perclass.txt')) == 130
    with Image.open(out / 'val' / '9_ankle_boot' / '00019.png') as image:
        assert (image.mode, image.size) == ('RGB', (32, 32))


def test_make_split_cli(tmp_path: Path, run_tool) -> None:
    root = tmp_path / 'imagenet'
    for wnid, n in (('n02', 25), ('n01', 20), ('n03', 31)):
        (root / 'train' / wnid).mkdir(parents=True)
        for i in range(n):
            (root / 'train' / wnid / f'{wnid}_{i}.JPEG').write_bytes(b'')
    (root / 'train' / 'n01' / 'notes.txt').write_text('not an image')
    samples, classes = scan_image_folder(root)
    assert classes == ['n01', 'n02', 'n03'] and len(samples) == 76
    out = tmp_path / 'split.txt'
    result = run_tool(
        ['tools/dataset_converters/make_split.py', str(root), str(out), '--per-class', '4', '--seed', '2']
    )
    assert '12 of 76 images from 3 classes (4-4 a class, seed 2)' in result.stdout
    lines = out.read_text().splitlines()
    assert lines[0].startswith('train/n01/n01_') and lines[0].endswith('.JPEG 0') and lines[-1].endswith(' 2')
    assert read_split(out) == make_class_balanced_split(samples, per_class=4, seed=2)
