"""Convert a whole-model release to an lgp checkpoint (``{'state_dict': ...}``) that ``load_from`` reads strictly.

Reads the official MAE release with its decoder (``mae_visualize_vit_*.pth``) -> lgp's ``LGPMAE`` (to continue MAE
pre-training, or to draw reconstructions), and the official MoCo v3 / original Layer Grafted release (projector,
predictor, momentum encoder) -> lgp's ``LGPMoCoV3`` (the momentum encoder's ``steps`` set to 1, so that training
continues it from the file's momentum weights). With ``--config`` the result is checked strictly against that
config's model.

    python tools/model_converters/to_lgp_model.py mae_visualize_vit_base.pth mae_vit-b_lgp.pth \\
        --config configs/_base_/models/mae_vit_b.py
    python tools/model_converters/to_lgp_model.py checkpoint_0299.pth.tar mocov3_vit-b_lgp.pth \\
        --config configs/_base_/models/mocov3_vit_b.py
"""

import argparse

import torch

import lgp  # noqa: F401  (safe-loading allow-list, registration)
from lgp.models.checkpoint import MODEL_LAYOUTS, check_state_dict, read_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the lgp checkpoint')
    parser.add_argument('--source', default='auto', choices=('auto', *MODEL_LAYOUTS), help='layout of src')
    parser.add_argument('--config', help="check the result strictly against this config's model")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    state_dict, layout, dropped = read_model(args.src, args.source)
    print(f'{args.src}: layout {layout!r}, {len(state_dict)} tensors')
    for reason, keys in dropped.items():
        print(f'  dropped {len(keys)} keys: {reason}')
    if args.config:
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import MODELS

        init_default_scope('mmpretrain')
        check_state_dict(MODELS.build(Config.fromfile(args.config).model), state_dict, source=args.src)
        print(f'  checked against the model of {args.config}: every key and shape matches')
    torch.save({'state_dict': state_dict, 'meta': {'converted_from': layout}}, args.dst)
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    main()
