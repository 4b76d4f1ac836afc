"""Convert a checkpoint to an lgp backbone-only file (what mmseg configs and ``init_cfg`` load).

Reads the official MAE release (``{'model': ...}``, timm keys), the official MoCo v3 release and the original
Layer Grafted release (``module.base_encoder.`` prefixes), mmpretrain and lgp checkpoints, and timm state dicts.
Every key is accounted for: the backbone's are renamed, the rest are dropped by name and reason, and with ``--arch``
the result is checked strictly against that backbone.

    python tools/model_converters/to_lgp_backbone.py mae_pretrain_vit_base.pth vit-b_mae.pth --arch b
    python tools/model_converters/to_lgp_backbone.py work_dirs/grafted/epoch_300.pth lgp_vit-b.pth --arch b
"""

import argparse

import torch

import lgp  # noqa: F401  (safe-loading allow-list)
from lgp.models import LGPViT
from lgp.models.checkpoint import LAYOUTS, check_state_dict, read_backbone


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the backbone-only file')
    parser.add_argument('--source', default='auto', choices=('auto', *LAYOUTS), help='layout of src')
    parser.add_argument(
        '--encoder',
        default='online',
        choices=('online', 'momentum'),
        help='which encoder of a MoCo v3 / Layer Grafted checkpoint',
    )
    parser.add_argument('--arch', help='check the result strictly against LGPViT(arch), e.g. b or l')
    parser.add_argument('--img-size', type=int, default=224, help='input size of the --arch check')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    backbone, layout, dropped = read_backbone(args.src, args.source, args.encoder)
    print(f'{args.src}: layout {layout!r}, {len(backbone)} backbone tensors')
    for reason, keys in dropped.items():
        print(f'  dropped {len(keys)} keys: {reason}')
    if args.arch:
        check_state_dict(LGPViT(args.arch, img_size=args.img_size), backbone, source=args.src)
        print(f'  checked against LGPViT({args.arch!r}): every key and shape matches')
    torch.save({'state_dict': backbone, 'meta': {'converted_from': layout, 'encoder': args.encoder}}, args.dst)
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    main()
