"""Gradient conflict C_MIM,CL per block of a model trained with the MTL combination (paper, Figure 1).

    python tools/analysis_tools/gradient_conflict.py configs/mtl_vit-b.py work_dirs/mtl_vit-b/epoch_300.pth \
        --num-batches 64 --batch-size 8 --out-dir work_dirs/mtl_vit-b/conflict

Writes gradient_conflict.csv (one row per batch and block), .json (rows and a per-block summary) and .png (the
distribution per block), and prints the summary.
"""

import argparse
import itertools
from pathlib import Path

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import lgp  # noqa: F401  (compatibility fixes, registration)
from lgp.analysis import measure, summarise, write_report
from lgp.models.algorithms import MTLMAEMoCoV3
from lgp.models.checkpoint import load_model_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Per-block cosine between the MIM and CL loss gradients.')
    parser.add_argument('config', help='an MTL config (both losses over one encoder)')
    parser.add_argument('checkpoint', help='checkpoint of that model')
    parser.add_argument('--num-batches', type=int, default=32, help='batches to measure')
    parser.add_argument('--batch-size', type=int, default=8, help='images per batch (the CL loss needs >= 2)')
    parser.add_argument('--out-dir', help='where to write the table and the plot (default: next to the checkpoint)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    if not isinstance(model, MTLMAEMoCoV3):
        raise TypeError(
            f'{args.config} builds {type(model).__name__}; the measure needs both losses on one encoder, '
            'i.e. an MTLMAEMoCoV3 config such as configs/mtl_vit-b.py.'
        )
    load_model_checkpoint(model, args.checkpoint)

    loader_cfg = dict(cfg.train_dataloader, batch_size=args.batch_size, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    rows = measure(model, itertools.islice(loader, args.num_batches))
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.checkpoint).parent / 'gradient_conflict'
    paths = write_report(rows, out_dir)
    print(f'{"block":>5} {"mean":>8} {"min":>8} {"max":>8} {"negative":>9}')
    for row in summarise(rows):
        print(
            f'{row["block"]:>5} {row["mean"]:>8.4f} {row["min"]:>8.4f} {row["max"]:>8.4f} '
            f'{row["negative_fraction"]:>9.2%}'
        )
    print('wrote ' + ', '.join(str(p) for p in paths.values()))


if __name__ == '__main__':
    main()
