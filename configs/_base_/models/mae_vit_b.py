# MAE (He et al., 2022) on the ViT-B/16 LGPViT: 75 % of the patches masked; decoder 512 dims / 8 blocks / 16 heads
# with MAE's initialisation (xavier-uniform linear layers, zero biases, unit LayerNorms here; the decoder itself sets
# its fixed sin-cos position embedding and its N(0, 0.02) mask token); L2 on the per-patch normalised pixels of the
# masked patches (norm_pix).
from mmengine.config import read_base
from mmengine.model import ConstantInit, XavierInit
from mmpretrain.models import MAEPretrainDecoder, MAEPretrainHead, PixelReconstructionLoss

from lgp.models import LGPMAE

with read_base():
    from .lgp_vit_b import backbone

model = dict(
    type=LGPMAE,
    backbone=dict(backbone, mask_ratio=0.75, pos_embed_type='sincos'),
    neck=dict(
        type=MAEPretrainDecoder,
        num_patches=196,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4.0,
        init_cfg=[
            dict(type=XavierInit, layer='Linear', distribution='uniform'),
            dict(type=ConstantInit, layer='LayerNorm', val=1.0, bias=0.0),
        ],
    ),
    head=dict(
        type=MAEPretrainHead, norm_pix=True, patch_size=16, loss=dict(type=PixelReconstructionLoss, criterion='L2')
    ),
)
del backbone
