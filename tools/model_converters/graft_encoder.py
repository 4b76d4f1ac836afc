"""Assemble one encoder from two checkpoints by block range, as the original release's ``--graft_CL_end``, and write
it as an lgp backbone-only file (for ``init_cfg``, the evaluation protocols and segmentation).

The embeddings and blocks [0, split) come from LOWER (e.g. an MAE checkpoint), blocks [split, L) and the final norm
from UPPER (e.g. a MoCo v3 checkpoint); every part is loaded strictly and the report says which file each came from.

    python tools/model_converters/graft_encoder.py mae.pth mocov3.pth grafted_encoder.pth --split 8 --arch b
"""

import argparse

import torch

import lgp  # noqa: F401  (safe-loading allow-list)
from lgp.models import LGPViT
from lgp.models.algorithms import graft_encoder
from lgp.models.checkpoint import LAYOUTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('lower', help='checkpoint of the embeddings and blocks [0, split) (MIM)')
    parser.add_argument('upper', help='checkpoint of blocks [split, L) and the final norm (CL)')
    parser.add_argument('dst', help='where to write the backbone-only file')
    parser.add_argument('--split', type=int, required=True, help='first block taken from UPPER (ViT-B: 8)')
    parser.add_argument('--arch', required=True, help='the LGPViT arch of both checkpoints, e.g. b or l')
    parser.add_argument('--img-size', type=int, default=224, help='input size the position embedding is built for')
    parser.add_argument('--patch-size', type=int, help="patch size, if not the arch's")
    for part in ('lower', 'upper'):
        parser.add_argument(f'--{part}-source', default='auto', choices=('auto', *LAYOUTS), help=f'layout of {part}')
        parser.add_argument(f'--{part}-encoder', default='online', choices=('online', 'momentum'))
    args = parser.parse_args()

    backbone = LGPViT(args.arch, img_size=args.img_size, patch_size=args.patch_size)
    parts = [
        dict(checkpoint=args.lower, blocks=(0, args.split), embeddings=True, final_norm=False),
        dict(checkpoint=args.upper, blocks=(args.split, backbone.num_layers), embeddings=False, final_norm=True),
    ]
    for part, name in zip(parts, ('lower', 'upper'), strict=True):
        part.update(source=getattr(args, f'{name}_source'), encoder=getattr(args, f'{name}_encoder'))
    origin = graft_encoder(backbone, parts)  # logs where each part came from
    torch.save({'state_dict': backbone.state_dict(), 'meta': {'grafted_from': origin}}, args.dst)
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    main()
