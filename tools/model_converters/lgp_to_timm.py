"""Export the backbone of an lgp (or any readable) checkpoint as a timm ``VisionTransformer`` state dict.

The result loads with ``strict=True`` into ``timm.create_model('vit_base_patch16_224', num_classes=0)`` (or the
matching arch): ``model.load_state_dict(torch.load(dst, weights_only=True))``.

    python tools/model_converters/lgp_to_timm.py work_dirs/grafted/epoch_300.pth vit-b_lgp_timm.pth
"""

import argparse

import torch

import lgp  # noqa: F401  (safe-loading allow-list)
from lgp.models.checkpoint import LAYOUTS, lgp_to_timm, read_backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint to export')
    parser.add_argument('dst', help='where to write the timm state dict')
    parser.add_argument('--source', default='auto', choices=('auto', *LAYOUTS), help='layout of src')
    parser.add_argument('--encoder', default='online', choices=('online', 'momentum'))
    args = parser.parse_args()

    backbone, layout, dropped = read_backbone(args.src, args.source, args.encoder)
    for reason, keys in dropped.items():
        print(f'dropped {len(keys)} keys: {reason}')
    torch.save(lgp_to_timm(backbone), args.dst)
    print(f'wrote {args.dst}: {len(backbone)} tensors in timm names')


if __name__ == '__main__':
    main()
