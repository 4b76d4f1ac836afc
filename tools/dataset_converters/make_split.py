"""Write a class-balanced labelled subset of an ImageNet-style folder as a split file (the original release's format).

``python tools/dataset_converters/make_split.py data/imagenet data/imagenet/meta/train_1percent.txt --percent 1``

scans ``ROOT/<split>/<class>/<image>`` (labels = class folders in sorted order) and writes one line per chosen image,
``train/<class>/<file> <label>``, paths relative to ROOT. Read it with mmpretrain's
``CustomDataset(data_root=ROOT, ann_file=OUT, data_prefix='')``. ``--percent p`` draws round(p % of all images)
spread evenly over the classes (ImageNet 1 %: 12 or 13 a class, 12,811 in all); ``--per-class q`` draws q a class.
"""

import argparse
from collections import Counter

from lgp.datasets.splits import make_class_balanced_split, scan_image_folder, write_split


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write a class-balanced split file of an ImageNet-style folder.')
    parser.add_argument('root', help='data root holding <split>/<class>/<images>, e.g. data/imagenet')
    parser.add_argument('out', help='split file to write, e.g. data/imagenet/meta/train_1percent.txt')
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument('--percent', type=float, help='percentage of all images, spread evenly over the classes')
    size.add_argument('--per-class', type=int, help='images per class')
    parser.add_argument('--seed', type=int, default=0, help='seed of the draw (the same seed gives the same split)')
    parser.add_argument('--split', default='train', help='sub-folder of ROOT to draw from')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    samples, classes = scan_image_folder(args.root, args.split)
    chosen = make_class_balanced_split(samples, percent=args.percent, per_class=args.per_class, seed=args.seed)
    write_split(args.out, chosen)
    per_class = Counter(label for _, label in chosen).values()
    print(
        f'{len(chosen)} of {len(samples)} images from {len(classes)} classes '
        f'({min(per_class)}-{max(per_class)} a class, seed {args.seed}) written to {args.out}'
    )


if __name__ == '__main__':
    main()
