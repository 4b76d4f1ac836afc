# MoCo v3 (Chen et al., 2021) on the ViT-B/16 LGPViT: fixed 2-D sin-cos position embedding, stop-gradient patch
# embedding; projector D -> 4096 -> 4096 -> 256 and predictor 256 -> 4096 -> 256 (no bias, BN + ReLU between, last BN
# without affine); temperature T = 0.2, each loss term x 2T; momentum 0.99 -> 1 on a cosine (base_momentum = 1 - 0.99).
# The heads' BN is plain BN1d here: configs set sync_bn='torch' so mmengine synchronises it across GPUs.
from mmengine.config import read_base
from mmpretrain.models import CrossEntropyLoss, MoCoV3Head, NonLinearNeck

from lgp.models import LGPMoCoV3

with read_base():
    from .lgp_vit_b import backbone

temperature = 0.2
projector = dict(
    type=NonLinearNeck,
    in_channels=768,
    hid_channels=4096,
    out_channels=256,
    num_layers=3,
    with_bias=False,
    with_last_bn=True,
    with_last_bn_affine=False,
    with_last_bias=False,
    with_avg_pool=False,
    norm_cfg=dict(type='BN1d'),
)
model = dict(
    type=LGPMoCoV3,
    base_momentum=0.01,
    backbone=dict(backbone, pos_embed_type='sincos', stop_grad_patch_embed=True, out_type='cls_token'),
    neck=projector,
    head=dict(
        type=MoCoV3Head,
        predictor=dict(projector, in_channels=256, num_layers=2),
        loss=dict(type=CrossEntropyLoss, loss_weight=2 * temperature),
        temperature=temperature,
    ),
)
del backbone
