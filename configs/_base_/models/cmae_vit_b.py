# CMAE (Huang et al., 2022; the official code) on the ViT-B/16 LGPViT: 65 % of the 2x2-patch squares masked (17 of 49
# kept); the pixel decoder and loss of mae_vit_b.py (512 dims, 8 blocks, norm_pix); a feature decoder of the same
# design with 2 blocks (its per-patch output, 16 * 16 * 3 = 768 wide, is the encoder's width); projector
# 768 -> 1536 -> 256 and predictor 256 -> 1536 -> 256 (biases, BN + ReLU between, no last BN, BN eps 1e-6 as the
# official code); InfoNCE at tau 0.07, x 2 tau, weight lambda_c = 1; target = EMA of encoder and projector at 0.996.
# The heads' BN is plain BN1d here: configs set sync_bn='torch' so mmengine synchronises it across GPUs.
from mmengine.config import read_base
from mmpretrain.models import CrossEntropyLoss, MoCoV3Head, NonLinearNeck

from lgp.models import CMAE

with read_base():
    from .mae_vit_b import model as mae_model

temperature = 0.07
projector = dict(
    type=NonLinearNeck,
    in_channels=768,
    hid_channels=1536,
    out_channels=256,
    num_layers=2,
    with_bias=True,
    with_last_bn=False,
    with_last_bias=False,
    with_avg_pool=False,
    norm_cfg=dict(type='BN1d', eps=1e-6),
)
model = dict(
    type=CMAE,
    backbone=dict(mae_model.backbone, mask_ratio=0.65, mask_unit=2),
    neck=mae_model.neck,
    head=mae_model.head,
    feature_decoder=dict(mae_model.neck, decoder_depth=2),
    projector=projector,
    contrast_head=dict(
        type=MoCoV3Head,
        predictor=dict(projector, in_channels=256),
        loss=dict(type=CrossEntropyLoss, loss_weight=2 * temperature),
        temperature=temperature,
    ),
    contrast_weight=1.0,
    target_momentum=0.996,
)
del mae_model
