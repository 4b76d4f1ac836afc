"""t-SNE maps of frozen encoders' features, a panel per method, points coloured by class
(:mod:`lgp.visualization.tsne`).

    python tools/visualization/tsne.py configs/benchmarks/linear_lgp-vit-nano_digits.py \
        --model MAE work_dirs/mae_vit-nano_digits/epoch_20.pth \
        --model 'Layer Grafted' work_dirs/grafted_vit-nano_digits/epoch_4.pth \
        --out work_dirs/tsne.png

The features are those the frozen-encoder protocols see (:func:`lgp.evaluation.frozen_encoder.frozen_features`):
DATA_CONFIG is a classification config whose ``model.backbone`` is the encoder (every ``--model``'s CHECKPOINT, any
layout lgp reads, the online encoder, is loaded into it strictly), whose data preprocessor normalises the images and
whose test loader gives them through the test-time transform: its test set, or the images of ``--split`` (a split
file, paths relative to the test set's ``data_root``). Encoders of another architecture than DATA_CONFIG's backbone
(ConMIM's BEiT style) need ``--cfg-options model.backbone.<option>=...``, so a run of their own.
Class names come from ``meta/classes.txt`` under the data root when there is one. Writes the PNG and, beside it,
a CSV of the 2-D points (``method,index,label,x,y``; index: the image's line in the split).
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import csv
from pathlib import Path

import torch

from lgp.engine import load_config
from lgp.evaluation.frozen_encoder import VAL, frozen_features, resolve_split, split_dataloader_cfgs
from lgp.visualization import PERPLEXITY, add_device_and_data_options, plot_tsne


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="t-SNE of frozen encoders' features, a panel per method, as a PNG.")
    parser.add_argument(
        'data_config', help='classification config: the encoder, its test transform and the images, e.g. a linear one'
    )
    parser.add_argument(
        '--model',
        nargs=2,
        action='append',
        required=True,
        metavar=('LABEL', 'CHECKPOINT'),
        help="a method (repeatable): its label and its checkpoint, loaded into DATA_CONFIG's backbone",
    )
    parser.add_argument('--split', help="split file of the images to map (default: DATA_CONFIG's test set)")
    parser.add_argument('--max-points', type=int, help='map a random subset of this many images (seeded by --seed)')
    parser.add_argument('--perplexity', type=float, default=PERPLEXITY, help='t-SNE perplexity')
    parser.add_argument('--seed', type=int, default=0, help="t-SNE's random_state and the subset's seed")
    parser.add_argument('--cache-dir', help='cache the features here (reused only for identical inputs)')
    parser.add_argument('--out', default='work_dirs/tsne.png', help='the PNG to write (the CSV goes beside it)')
    add_device_and_data_options(parser)
    args = parser.parse_args()
    labels = [label for label, _ in args.model]
    if len(set(labels)) < len(labels):
        parser.error(f'each --model needs its own label, got {labels}.')
    if args.max_points is not None and args.max_points < 1:
        parser.error(f'--max-points must be at least 1, got {args.max_points}.')
    return args


def class_names(data_root: Path) -> list[str] | None:
    """The class names of ``data_root/meta/classes.txt`` (lgp's converters write one), one a line; else None."""
    path = data_root / 'meta' / 'classes.txt'
    return [line.strip() for line in path.read_text().splitlines() if line.strip()] if path.is_file() else None


def write_points(path: Path, embeddings: dict[str, torch.Tensor], index: torch.Tensor, labels: torch.Tensor) -> None:
    """A CSV row ``method,index,label,x,y`` per method and point."""
    with path.open('w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['method', 'index', 'label', 'x', 'y'])
        for method, points in embeddings.items():
            for i, label, (x, y) in zip(index.tolist(), labels.tolist(), points.tolist(), strict=True):
                writer.writerow([method, i, label, f'{x:.4f}', f'{y:.4f}'])


def main() -> None:
    args = parse_args()
    cfg = load_config(args.data_config, args.cfg_options)
    if cfg.get('test_dataloader') is None:
        raise ValueError(f'{args.data_config} defines no test_dataloader: use a classification (transfer) config.')
    data_root = Path(cfg.test_dataloader.dataset.get('data_root', ''))
    if args.split:  # the split's images through the test loader: frozen_features gives them as VAL
        split_file = resolve_split(args.split, data_root)
        cfg.test_dataloader = split_dataloader_cfgs(cfg, {'split': split_file})['split']

    features, labels = {}, None
    for label, checkpoint in args.model:
        x, y = frozen_features(cfg, checkpoint, {}, args.cache_dir, device=args.device)[VAL]
        if labels is not None and not torch.equal(y, labels):
            raise RuntimeError(f'{label}: the images came in another order than for the first model.')
        features[label], labels = x, y
        print(f'{label}: {tuple(x.shape)} features of {checkpoint}')
    index = torch.arange(len(labels))
    if args.max_points is not None and args.max_points < len(index):
        generator = torch.Generator().manual_seed(args.seed)
        index = torch.randperm(len(index), generator=generator)[: args.max_points].sort().values
        features = {label: x[index] for label, x in features.items()}

    out = Path(args.out)
    embeddings = plot_tsne(features, labels[index], out, args.seed, args.perplexity, class_names=class_names(data_root))
    write_points(out.with_suffix('.csv'), embeddings, index, labels[index])
    print(f'wrote {out} and {out.with_suffix(".csv")} ({len(index)} images)')


if __name__ == '__main__':
    main()
