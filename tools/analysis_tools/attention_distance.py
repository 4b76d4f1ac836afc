"""Mean attention distance per block and head of one or more encoders, a line per method (the original Layer Grafted
release's measure: :mod:`lgp.analysis.attention_distance`).

    python tools/analysis_tools/attention_distance.py configs/benchmarks/linear_lgp-vit-b_8xb128-90e_in1k.py \
        --model MAE configs/mae_vit-b.py work_dirs/mae_vit-b/epoch_1600.pth \
        --model 'MoCo v3' configs/mocov3_vit-b.py work_dirs/mocov3_vit-b/epoch_300.pth \
        --num-images 256 --out-dir work_dirs/attention_distance

DATA_CONFIG's val loader (else its test loader) gives the images: its first ``--num-images``, the same for every model.
Each ``--model LABEL CONFIG CHECKPOINT`` is the backbone of CONFIG's model with CHECKPOINT loaded strictly (any layout
lgp reads, the online encoder), or, with CHECKPOINT ``none``, the config's untrained initialisation (seeded by
``--seed``); CONFIG's data preprocessor normalises the images. Writes attention_distance.csv (method, block, head,
distance in pixels), .json (the rows, the per-block summary, how it was measured) and .png, and prints the mean over
the heads per block.
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
from pathlib import Path

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from lgp.analysis import (
    attention_distance_rows,
    attention_distances,
    summarise_attention_distances,
    write_attention_distance_report,
)
from lgp.engine import load_config
from lgp.models import LGPViT
from lgp.models.checkpoint import load_backbone_checkpoint

UNTRAINED = 'none'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Mean attention distance per block and head, a line per model.')
    parser.add_argument('data_config', help='a config whose val (else test) loader gives the images, e.g. a linear one')
    parser.add_argument(
        '--model',
        nargs=3,
        action='append',
        required=True,
        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'),
        help=f'a method to measure (repeatable): its label, the config of its model, its checkpoint ("{UNTRAINED}": '
        'untrained)',
    )
    parser.add_argument('--num-images', type=int, default=256, help='images to average over')
    parser.add_argument(
        '--renormalise',
        action='store_true',
        help="rescale each patch query's weights on the patch keys to sum to 1 (default, as the original release: "
        "the CLS token's row and column are dropped, the rest kept as it is)",
    )
    parser.add_argument('--seed', type=int, default=0, help=f'seed of the untrained ("{UNTRAINED}") initialisations')
    parser.add_argument('--out-dir', default='work_dirs/attention_distance', help='where the table and the plot go')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='device')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override DATA_CONFIG settings, e.g. the data root'
    )
    args = parser.parse_args()
    if args.num_images < 1:
        parser.error(f'--num-images must be at least 1, got {args.num_images}.')
    labels = [label for label, _, _ in args.model]
    if len(set(labels)) < len(labels):
        parser.error(f'each --model needs its own label, got {labels}.')
    return args


def first_images(cfg: Config, config_name: str, num_images: int) -> list[dict]:
    """The first ``num_images`` images of the val (else test) loader, as its batches, the last one cut to size."""
    loader_cfg = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if loader_cfg is None:
        raise ValueError(
            f'{config_name} has no val_dataloader or test_dataloader (a pre-training config?): pass a config with one, '
            'e.g. configs/benchmarks/linear_lgp-vit-nano_digits.py.'
        )
    loader = Runner.build_dataloader(dict(loader_cfg, persistent_workers=False), seed=0)
    batches, count = [], 0
    for batch in loader:
        inputs = batch['inputs'] if isinstance(batch['inputs'], torch.Tensor) else torch.stack(batch['inputs'])
        batches.append(dict(inputs=inputs[: num_images - count], data_samples=None))
        count += len(batches[-1]['inputs'])
        if count == num_images:
            break
    if count < num_images:
        raise ValueError(f'{config_name} has {count} images, fewer than --num-images {num_images}.')
    return batches


def build_encoder(config: str, checkpoint: str, seed: int) -> tuple[LGPViT, torch.nn.Module]:
    """The backbone of ``config``'s model with ``checkpoint`` loaded strictly, and its data preprocessor."""
    cfg = load_config(config)
    preprocessor_cfg = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor')
    if preprocessor_cfg is None:
        raise ValueError(f'{config} defines no data_preprocessor (the mean / std its encoder expects).')
    torch.manual_seed(seed)
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    if not isinstance(backbone, LGPViT):
        raise TypeError(f'{config} builds a {type(backbone).__name__} backbone; the measure needs an LGPViT.')
    backbone.init_weights()
    if checkpoint != UNTRAINED:
        load_backbone_checkpoint(backbone, checkpoint)
    return backbone, MODELS.build(preprocessor_cfg)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.data_config, args.cfg_options)
    batches = first_images(cfg, args.data_config, args.num_images)

    rows = []
    for label, config, checkpoint in args.model:
        backbone, preprocessor = build_encoder(config, checkpoint, args.seed)
        backbone.to(args.device)
        with torch.no_grad():
            images = (preprocessor(batch, False)['inputs'] for batch in batches)
            rows += attention_distance_rows(label, attention_distances(backbone, images, args.renormalise))
    meta = dict(
        data_config=args.data_config,
        num_images=args.num_images,
        models=[dict(label=label, config=config, checkpoint=checkpoint) for label, config, checkpoint in args.model],
        cls_token='row and column dropped, '
        + ('patch weights renormalised' if args.renormalise else 'not renormalised'),
        unit='pixels',
    )
    paths = write_attention_distance_report(rows, Path(args.out_dir), meta)

    summary = summarise_attention_distances(rows)
    blocks = sorted({s['block'] for s in summary})
    width = max(len('block'), *(len(label) for label, _, _ in args.model))
    print(f'mean attention distance (pixels, mean over heads) on {args.num_images} images')
    print(f'{"block":<{width}} ' + ' '.join(f'{b:>6}' for b in blocks))
    for label, _, _ in args.model:
        means = {s['block']: s['mean'] for s in summary if s['method'] == label}
        print(f'{label:<{width}} ' + ' '.join(f'{means[b]:>6.2f}' for b in blocks))
    print('wrote ' + ', '.join(str(p) for p in paths.values()))


if __name__ == '__main__':
    main()
