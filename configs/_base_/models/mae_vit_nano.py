# MAE with the nano LGPViT (48 dims, 6 blocks, 3 heads) on 32x32 images, patch 4 (8x8 = 64 patches),
# and a small decoder (64 dims, 2 blocks). For CPU runs and tests.
from mmengine.model import ConstantInit, XavierInit
from mmpretrain.models import MAEPretrainDecoder, MAEPretrainHead, PixelReconstructionLoss

from lgp.models import LGPViT
from lgp.models.algorithms import MAE

model = dict(
    type=MAE,
    backbone=dict(type=LGPViT, arch='nano', img_size=32, patch_size=4, mask_ratio=0.75),
    neck=dict(
        type=MAEPretrainDecoder,
        num_patches=64,
        patch_size=4,
        in_chans=3,
        embed_dim=48,
        decoder_embed_dim=64,
        decoder_depth=2,
        decoder_num_heads=4,
        mlp_ratio=4.0,
    ),
    head=dict(
        type=MAEPretrainHead,
        norm_pix=True,
        patch_size=4,
        loss=dict(type=PixelReconstructionLoss, criterion='L2'),
    ),
    # The decoder's linear layers and norms; the backbone applies MAE's own initialisation afterwards.
    init_cfg=[
        dict(type=XavierInit, layer='Linear', distribution='uniform'),
        dict(type=ConstantInit, layer='LayerNorm', val=1.0, bias=0.0),
    ],
)
