# MAE (He et al., 2022) on the ViT-B/16 LGPViT: 75 % of the patches masked, decoder 512 dims / 8 blocks / 16 heads,
# L2 on the per-patch normalised pixels of the masked patches (norm_pix).
from mmengine.model import ConstantInit, XavierInit
from mmpretrain.models import MAEPretrainDecoder, MAEPretrainHead, PixelReconstructionLoss

from lgp.models import MAE, LGPViT

model = dict(
    type=MAE,
    backbone=dict(type=LGPViT, arch='b', img_size=224, patch_size=16, mask_ratio=0.75, pos_embed_type='sincos'),
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
    ),
    head=dict(
        type=MAEPretrainHead, norm_pix=True, patch_size=16, loss=dict(type=PixelReconstructionLoss, criterion='L2')
    ),
    # The decoder's linear layers and norms; the backbone applies MAE's own initialisation afterwards.
    init_cfg=[
        dict(type=XavierInit, layer='Linear', distribution='uniform'),
        dict(type=ConstantInit, layer='LayerNorm', val=1.0, bias=0.0),
    ],
)
