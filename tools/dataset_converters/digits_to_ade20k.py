"""Write scikit-learn's digits as a tiny ADE20K-layout segmentation set: ``python THIS_FILE data/digits_ade``.

The files go to ``OUT_DIR/ADEChallengeData2016/{images,annotations}/{training,validation}`` (see
:mod:`lgp.datasets.digits_ade20k`), the layout of ``configs/segmentation/upernet_lgp-vit-nano_digits-seg.py``.
"""

import argparse

from lgp.datasets import write_digits_ade20k
from lgp.datasets.digits_ade20k import SPLITS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write scikit-learn digits as an ADE20K-layout segmentation set.')
    parser.add_argument('out_dir', help='destination folder, e.g. data/digits_ade')
    parser.add_argument('--size', type=int, default=64, help='side of the square canvases')
    parser.add_argument('--num-train', type=int, default=SPLITS['training'][1], help='number of training samples')
    parser.add_argument('--num-val', type=int, default=SPLITS['validation'][1], help='number of validation samples')
    parser.add_argument('--max-digits', type=int, default=3, help='at most this many digits per canvas')
    parser.add_argument('--seed', type=int, default=0, help='the same seed writes the same files')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = write_digits_ade20k(
        args.out_dir,
        size=args.size,
        num_train=args.num_train,
        num_val=args.num_val,
        max_digits=args.max_digits,
        seed=args.seed,
    )
    for split, count in counts.items():
        print(f'{split}: {count["images"]} images, {count["digits"]} digits')
    total = sum(c['images'] for c in counts.values())
    print(f'total: {total} images of {args.size}x{args.size} px in {args.out_dir}/ADEChallengeData2016')


if __name__ == '__main__':
    main()
