"""Fashion-MNIST (70,000 real 28x28 grey photographs of clothing, 10 classes) as an ImageNet-style folder.

The four IDX files come with Debian's ``dataset-fashion-mnist`` package, in :data:`DEFAULT_SRC_DIR`. The standard
split is kept: the 60,000 training images go to ``train/``, the 10,000 test images to ``val/``. Each image is padded
with 2 black pixels a side to 32x32, the input size of the nano ViT configs (8x8 patches of 4 px): the photographs
lie on a black background, so the padding adds no edge and every pixel stays as it was, where resizing to 32 would
blur them. Layout (written by :func:`lgp.datasets.digits.write_imagenet_folder`)::

    out_dir/
        train/0_tshirt_top/00000.png ...   # <n>: the image's index in its IDX file; folders sort in label order
        val/9_ankle_boot/00000.png ...
        meta/train.txt, meta/val.txt       # ``train/9_ankle_boot/00000.png 9``: path relative to out_dir, label
        meta/classes.txt
        meta/train_1percent.txt, meta/train_10percent.txt, meta/train_13perclass.txt   (lgp.datasets.splits)

IDX format: a big-endian header, magic number ``0x0000_08_<d>`` (``0x08``: unsigned bytes, ``d`` dimensions), then
``d`` big-endian uint32 sizes, then the values in C order; ``0x00000803`` images (N, 28, 28), ``0x00000801`` labels
(N,). The files may be gzip-compressed.
"""

import gzip
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from ..utils import track
from .digits import write_imagenet_folder

DEFAULT_SRC_DIR = '/usr/share/datasets/fashion-mnist'
# The published names (T-shirt/top, Trouser, ..., Ankle boot) made folder-safe, prefixed with the label so that the
# folders sort in label order.
FASHION_MNIST_CLASSES = (
    '0_tshirt_top',
    '1_trouser',
    '2_pullover',
    '3_dress',
    '4_coat',
    '5_sandal',
    '6_shirt',
    '7_sneaker',
    '8_bag',
    '9_ankle_boot',
)
# split of the written folder -> (images, labels) file names without ``.gz``
IDX_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'val': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
IMAGE_SHAPE = (28, 28)
PAD = 2  # pixels of black added on each side: 28 -> 32
IDX_UBYTE = 0x08
IDX_CONTENT = {3: 'images', 1: 'labels'}  # ndim -> what such a file holds
GZIP_MAGIC = b'\x1f\x8b'


class IDXFormatError(ValueError):
    """An IDX file whose header or length is not what it should be; names the file and the fault."""


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """The uint8 array of an IDX file with ``ndim`` dimensions, raw or gzip-compressed (told apart by content).

    Args:
        path: the file.
        ndim: dimensions expected: 3 for images (magic ``0x00000803``), 1 for labels (``0x00000801``).

    Returns:
        A read-only uint8 array of the shape the header gives, e.g. (N, 28, 28).

    Raises:
        IDXFormatError: for a wrong magic number, a broken gzip stream, or data shorter or longer than the header's
            sizes.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError) as error:
            raise IDXFormatError(
                f'{path}: broken gzip stream ({error}); the file is incomplete, fetch it again.'
            ) from None
    expected = (IDX_UBYTE << 8) | ndim
    if len(raw) < 4:
        raise IDXFormatError(f'{path}: {len(raw)} bytes, too short for an IDX header; the file is truncated.')
    magic = int.from_bytes(raw[:4], 'big')
    if magic != expected:
        raise IDXFormatError(
            f'{path}: magic number 0x{magic:08X}, expected 0x{expected:08X} (unsigned bytes, {ndim} dimensions); '
            f'not an IDX file of {IDX_CONTENT.get(ndim, f"{ndim} dimensions")}.'
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f'{path}: the header of {ndim} sizes is cut short; the file is truncated.')
    shape = struct.unpack(f'>{ndim}I', raw[4:header])
    size, held = int(np.prod(shape)), len(raw) - header
    if held != size:
        fault = 'the file is truncated' if held < size else 'the file has trailing bytes'
        raise IDXFormatError(f'{path}: the header gives shape {shape} = {size} values, the file holds {held}; {fault}.')
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def find_idx_files(src_dir: str | Path = DEFAULT_SRC_DIR) -> dict[str, tuple[Path, Path]]:
    """split -> (images, labels) paths in ``src_dir``, each ``<name>.gz`` or else ``<name>``.

    Raises:
        FileNotFoundError: naming the missing files and how to get them.
    """
    src_dir = Path(src_dir)
    found, missing = {}, []
    for split, names in IDX_FILES.items():
        paths = [next((p for p in (src_dir / f'{n}.gz', src_dir / n) if p.is_file()), None) for n in names]
        missing += [f'{n}[.gz]' for n, p in zip(names, paths, strict=True) if p is None]
        found[split] = tuple(paths)
    if missing:
        raise FileNotFoundError(
            f'Fashion-MNIST files missing from {src_dir}: {", ".join(missing)}. Install them with '
            f'`apt-get install dataset-fashion-mnist` (into {DEFAULT_SRC_DIR}), or give the folder that holds them '
            '(src_dir=, or --src of tools/dataset_converters/fashion_mnist_to_imagenet.py).'
        )
    return found


def load_fashion_mnist(src_dir: str | Path = DEFAULT_SRC_DIR) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (images (N, 28, 28) uint8, labels (N,) uint8) of the IDX files in ``src_dir``; ``val`` is the test set.

    Raises:
        FileNotFoundError: see :func:`find_idx_files`.
        IDXFormatError: for a bad file (see :func:`read_idx`), images not 28x28, not as many labels as images, or
            a label outside 0..9.
    """
    data = {}
    for split, (images_path, labels_path) in find_idx_files(src_dir).items():
        images, labels = read_idx(images_path, 3), read_idx(labels_path, 1)
        if images.shape[1:] != IMAGE_SHAPE:
            raise IDXFormatError(
                f'{images_path}: images of {images.shape[1:]} pixels, Fashion-MNIST has {IMAGE_SHAPE}.'
            )
        if len(images) != len(labels):
            raise IDXFormatError(f'{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels.')
        if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
            raise IDXFormatError(f'{labels_path}: label {labels.max()}, Fashion-MNIST has 0..9.')
        data[split] = images, labels
    return data


def fashion_to_rgb(image: np.ndarray) -> Image.Image:
    """One (28, 28) uint8 image as a 32x32 RGB image: padded with ``PAD`` black pixels a side, grey in all channels."""
    return Image.fromarray(np.pad(image, PAD)).convert('RGB')


def write_fashion_mnist_imagenet(
    out_dir: str | Path, src_dir: str | Path = DEFAULT_SRC_DIR, seed: int = 0
) -> dict[str, int]:
    """Write Fashion-MNIST as an ImageNet-style folder of 32x32 RGB PNGs (see the module docstring).

    Args:
        out_dir: destination; its ``train``, ``val`` and ``meta`` folders are replaced, anything else is kept.
        src_dir: folder of the four IDX files (``.gz`` or raw).
        seed: seed of the few-shot splits ``meta/train_{1,10}percent.txt`` and ``meta/train_13perclass.txt``.

    Returns:
        The number of images written per split: ``{'train': 60000, 'val': 10000}`` for the full data set.
    """
    splits = {
        split: _rgb_items(images, labels, f'writing {split}')
        for split, (images, labels) in load_fashion_mnist(src_dir).items()
    }
    return write_imagenet_folder(out_dir, FASHION_MNIST_CLASSES, splits, seed=seed)


def _rgb_items(images: np.ndarray, labels: np.ndarray, progress_label: str) -> Iterator[tuple[int, int, Image.Image]]:
    """``(index, label, 32x32 RGB image)`` for each image, made as they are written, their progress shown."""
    for index, (image, label) in enumerate(zip(track(images, progress_label), labels, strict=True)):
        yield index, int(label), fashion_to_rgb(image)


__all__ = [
    'DEFAULT_SRC_DIR',
    'FASHION_MNIST_CLASSES',
    'IDXFormatError',
    'fashion_to_rgb',
    'find_idx_files',
    'load_fashion_mnist',
    'read_idx',
    'write_fashion_mnist_imagenet',
]
