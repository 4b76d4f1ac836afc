"""Write scikit-learn's handwritten digits as an ImageNet-style folder: ``python THIS_FILE data/digits``."""

import argparse

from lgp.datasets import write_digits_imagenet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert scikit-learn digits to an ImageNet-style folder.')
    parser.add_argument('out_dir', help='destination folder, e.g. data/digits')
    parser.add_argument('--size', type=int, default=32, help='side of the written RGB images')
    parser.add_argument('--val-fraction', type=float, default=0.2, help='fraction of each class kept for val')
    parser.add_argument('--seed', type=int, default=0, help='seed of the stratified split')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = write_digits_imagenet(args.out_dir, size=args.size, val_fraction=args.val_fraction, seed=args.seed)
    for split, count in counts.items():
        print(f'{split}: {count} images')
    print(f'total: {sum(counts.values())} images of {args.size}x{args.size} px in {args.out_dir}')


if __name__ == '__main__':
    main()
