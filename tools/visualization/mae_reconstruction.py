"""MAE reconstructions of a pre-trained LGPMAE or CMAE: per image the original, the masked input, the reconstruction
and the reconstruction with the visible patches pasted back (:mod:`lgp.visualization.reconstruction`).

    python tools/visualization/mae_reconstruction.py configs/mae_vit-b.py work_dirs/mae_vit-b/epoch_1600.pth \
        --data-config configs/benchmarks/linear_lgp-vit-b_8xb128-90e_in1k.py \
        --num-images 6 --mask-ratio 0.75 --seed 0 --out work_dirs/mae_reconstruction.png

CONFIG's whole model (encoder, pixel decoder, head) is built and CHECKPOINT loaded strictly: lgp's own checkpoints or
the official MAE release with its decoder. DATA_CONFIG's val loader (else its test loader) gives the images, its
first ``--num-images``, normalised by CONFIG's data preprocessor; ``--seed`` fixes the mask (``--mask-ratio``, default
the model's own, of its masking units: CMAE's 2x2 patches).
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse


from lgp.engine import load_config
from lgp.visualization import (
    add_device_and_data_options,
    build_model,
    check_num_images,
    first_images,
    mae_reconstruction,
    normalise,
    plot_reconstructions,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='MAE reconstructions of a pre-trained LGPMAE or CMAE, as a PNG.')
    parser.add_argument('config', help='the config of the model (LGPMAE or CMAE)')
    parser.add_argument('checkpoint', help='its checkpoint, with the decoder')
    parser.add_argument(
        '--data-config',
        required=True,
        help='a config whose val (else test) loader gives the images, e.g. configs/benchmarks/linear_lgp-vit-nano_'
        'digits.py',
    )
    parser.add_argument('--num-images', type=int, default=6, help='images, a row each')
    parser.add_argument('--mask-ratio', type=float, help="fraction of masking units dropped (default: the model's)")
    parser.add_argument('--seed', type=int, default=0, help='seed of the mask')
    parser.add_argument('--out', default='work_dirs/mae_reconstruction.png', help='the PNG to write')
    add_device_and_data_options(parser)
    args = parser.parse_args()
    check_num_images(parser, args.num_images)
    return args


def main() -> None:
    args = parse_args()
    batches = first_images(load_config(args.data_config, args.cfg_options), args.data_config, args.num_images)
    model = build_model(args.config, args.checkpoint).to(args.device)
    result = mae_reconstruction(model, normalise(batches, model.data_preprocessor), args.mask_ratio, args.seed)
    print(f'wrote {plot_reconstructions(result, args.out)}')


if __name__ == '__main__':
    main()
