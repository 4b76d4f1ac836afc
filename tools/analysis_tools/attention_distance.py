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

from lgp.analysis import (
    attention_distance_rows,
    attention_distances,
    summarise_attention_distances,
    write_attention_distance_report,
)
from lgp.engine import load_config
from lgp.visualization import (
    UNTRAINED,
    add_device_and_data_options,
    add_model_option,
    build_encoder,
    check_model_labels,
    check_num_images,
    first_images,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Mean attention distance per block and head, a line per model.')
    parser.add_argument('data_config', help='a config whose val (else test) loader gives the images, e.g. a linear one')
    add_model_option(parser)
    parser.add_argument('--num-images', type=int, default=256, help='images to average over')
    parser.add_argument(
        '--renormalise',
        action='store_true',
        help="rescale each patch query's weights on the patch keys to sum to 1 (default, as the original release: "
        "the CLS token's row and column are dropped, the rest kept as it is)",
    )
    parser.add_argument('--seed', type=int, default=0, help=f'seed of the untrained ("{UNTRAINED}") initialisations')
    parser.add_argument('--out-dir', default='work_dirs/attention_distance', help='where the table and the plot go')
    add_device_and_data_options(parser)
    args = parser.parse_args()
    check_num_images(parser, args.num_images)
    check_model_labels(parser, args.model)
    return args


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
