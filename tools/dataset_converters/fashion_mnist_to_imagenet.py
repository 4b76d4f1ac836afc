"""Write Fashion-MNIST as an ImageNet-style folder of 32x32 RGB PNGs: ``python THIS_FILE data/fashion-mnist``.

Reads the four IDX files of Debian's ``dataset-fashion-mnist`` package (``apt-get install dataset-fashion-mnist``)
from their install folder, or from ``--src``; writes train/ (60,000), val/ (the 10,000 test images), meta/ with the
few-shot split files, and reports the images per class of each split file.
"""

import argparse
import time
from pathlib import Path

from lgp.datasets import images_per_class
from lgp.datasets.fashion_mnist import DEFAULT_SRC_DIR, FASHION_MNIST_CLASSES, write_fashion_mnist_imagenet
from lgp.datasets.splits import FEWSHOT_SPLITS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert Fashion-MNIST IDX files to an ImageNet-style folder.')
    parser.add_argument('out_dir', help='destination folder, e.g. data/fashion-mnist')
    parser.add_argument(
        '--src', default=DEFAULT_SRC_DIR, help=f'folder of the IDX files, .gz or raw (default: {DEFAULT_SRC_DIR})'
    )
    parser.add_argument('--seed', type=int, default=0, help='seed of the few-shot splits')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    counts = write_fashion_mnist_imagenet(args.out_dir, src_dir=args.src, seed=args.seed)
    for split, count in counts.items():
        print(f'{split}: {count} images')
    meta = Path(args.out_dir) / 'meta'
    for name in ('train.txt', 'val.txt', *FEWSHOT_SPLITS):
        print(f'{name}: {images_per_class(meta / name, num_classes=len(FASHION_MNIST_CLASSES))}')
    print(f'total: {sum(counts.values())} images of 32x32 px in {args.out_dir} ({time.perf_counter() - start:.0f} s)')


if __name__ == '__main__':
    main()
