"""Gradient conflict C_MIM,CL per sample and block of a model trained with the MTL combination (paper, Figure 1).

    python tools/analysis_tools/gradient_conflict.py configs/mtl_vit-b.py work_dirs/mtl_vit-b/epoch_300.pth \
        --num-batches 32 --batch-size 8 --out-dir work_dirs/mtl_vit-b/conflict

Writes gradient_conflict.csv (one row per sample and block), .json (per block: n, mean, median, quartiles and the
share of negative values; and the trend with depth) and .png (a box per block over the samples, above the share of
negative values), and prints the summary and one sentence on whether the conflict grows with depth. Each sample's
contrastive term has the other images of its batch as negatives (every batch is full). Cost per sample: one MAE
forward and backward pass and one backward pass through its batch's contrastive loss.
"""

import argparse
import itertools
import json
from pathlib import Path

import torch
from mmengine.config import DictAction
from mmengine.runner import Runner, set_random_seed
from mmpretrain.registry import MODELS

import lgp  # noqa: F401  (compatibility fixes, registration)
from lgp.analysis.gradient_conflict import measure_gradient_conflict, write_gradient_conflict_report
from lgp.engine import load_config
from lgp.models.algorithms import MTLMAEMoCoV3
from lgp.models.checkpoint import load_model_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Per-sample, per-block cosine between the MIM and CL loss gradients.')
    parser.add_argument('config', help='an MTL config (both losses over one encoder)')
    parser.add_argument('checkpoint', help='checkpoint of that model')
    parser.add_argument('--num-batches', type=int, default=32, help='batches to measure')
    parser.add_argument(
        '--batch-size', type=int, default=8, help="images per batch, one another's negatives in the CL loss (>= 2)"
    )
    parser.add_argument('--seed', type=int, default=0, help='seed of the data order, augmentations and MAE masks')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='device')
    parser.add_argument('--out-dir', help='where to write the table and the plot (default: next to the checkpoint)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    if args.num_batches < 1 or args.batch_size < 2:
        parser.error(
            f"--num-batches must be >= 1 and --batch-size >= 2 (a sample's CL term needs other samples as "
            f'negatives); got {args.num_batches} and {args.batch_size}.'
        )
    return args


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    model = MODELS.build(cfg.model)
    if not isinstance(model, MTLMAEMoCoV3):
        raise TypeError(
            f'{args.config} builds {type(model).__name__}; the measure needs both losses on one encoder, '
            'i.e. an MTLMAEMoCoV3 config such as configs/mtl_vit-b.py.'
        )
    load_model_checkpoint(model, args.checkpoint)
    model.to(args.device)

    set_random_seed(args.seed)
    loader_cfg = dict(cfg.train_dataloader, batch_size=args.batch_size, drop_last=True, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    rows = measure_gradient_conflict(model, itertools.islice(loader, args.num_batches))
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.checkpoint).parent / 'gradient_conflict'
    paths = write_gradient_conflict_report(rows, out_dir)
    report = json.loads(paths['json'].read_text())
    print(f'{"block":>5} {"n":>5} {"median":>8} {"q1":>8} {"q3":>8} {"mean":>8} {"negative":>9}')
    for s in report['summary']:
        print(
            f'{s["block"]:>5} {s["n"]:>5} {s["median"]:>8.4f} {s["q1"]:>8.4f} {s["q3"]:>8.4f} {s["mean"]:>8.4f} '
            f'{s["negative_share"]:>9.1%}'
        )
    print(report['trend']['sentence'])
    print('wrote ' + ', '.join(str(p) for p in paths.values()))


if __name__ == '__main__':
    main()
