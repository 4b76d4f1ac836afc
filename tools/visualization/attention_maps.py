"""Attention maps of one or more encoders: per image the CLS token's attention over the patches in the last block,
the mean over the heads and each head, and with ``--rollout`` the attention rollout through all blocks
(:mod:`lgp.visualization.attention_maps`), a group of rows per encoder.

    python tools/visualization/attention_maps.py configs/benchmarks/linear_lgp-vit-b_8xb128-90e_in1k.py \
        --model MAE configs/mae_vit-b.py work_dirs/mae_vit-b/epoch_1600.pth \
        --model 'MoCo v3' configs/mocov3_vit-b.py work_dirs/mocov3_vit-b/epoch_300.pth \
        --model 'Layer Grafted' configs/grafted_vit-b.py work_dirs/grafted_vit-b/epoch_300.pth \
        --num-images 4 --rollout --out work_dirs/attention_maps.png

DATA_CONFIG's val loader (else its test loader) gives the images: its first ``--num-images``, the same for every
model. Each ``--model LABEL CONFIG CHECKPOINT`` is the backbone of CONFIG's model with CHECKPOINT loaded strictly (any
layout lgp reads, the online encoder), or, with CHECKPOINT ``none``, the config's untrained initialisation (seeded by
``--seed``); CONFIG's data preprocessor normalises the images.
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse


from lgp.engine import load_config
from lgp.visualization import (
    HEAD_FUSIONS,
    UNTRAINED,
    add_device_and_data_options,
    add_model_option,
    build_encoder,
    check_model_labels,
    check_num_images,
    encoder_attention,
    first_images,
    normalise,
    plot_attention_maps,
    to_pixels,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='CLS attention maps and attention rollout, a group of rows per model.')
    parser.add_argument('data_config', help='a config whose val (else test) loader gives the images, e.g. a linear one')
    add_model_option(parser)
    parser.add_argument('--num-images', type=int, default=4, help='images, a row each per model')
    parser.add_argument('--rollout', action='store_true', help='add the attention rollout through all blocks')
    parser.add_argument(
        '--discard-ratio', type=float, default=0.0, help="rollout: fraction of each block's lowest weights zeroed"
    )
    parser.add_argument('--head-fusion', choices=HEAD_FUSIONS, default='mean', help='rollout: how the heads combine')
    parser.add_argument('--alpha', type=float, default=0.5, help='opacity of the maps over the images')
    parser.add_argument('--seed', type=int, default=0, help=f'seed of the untrained ("{UNTRAINED}") initialisations')
    parser.add_argument('--out', default='work_dirs/attention_maps.png', help='the PNG to write')
    add_device_and_data_options(parser)
    args = parser.parse_args()
    check_num_images(parser, args.num_images)
    check_model_labels(parser, args.model)
    return args


def main() -> None:
    args = parse_args()
    batches = first_images(load_config(args.data_config, args.cfg_options), args.data_config, args.num_images)
    groups = []
    for label, config, checkpoint in args.model:
        backbone, preprocessor = build_encoder(config, checkpoint, args.seed)
        backbone.to(args.device)
        images = normalise(batches, preprocessor.to(args.device))
        pixels = to_pixels(images, preprocessor)
        groups.append(
            encoder_attention(label, backbone, images, pixels, args.rollout, args.discard_ratio, args.head_fusion)
        )
    print(f'wrote {plot_attention_maps(groups, args.out, args.alpha)}')


if __name__ == '__main__':
    main()
