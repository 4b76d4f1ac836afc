# UperNet over the ViT-B/16 LGPViT for ADE20K at 512x512, after mmseg's MAE reference
# (mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py) with mmseg's MultiLevelNeck:
#   * backbone: blocks 3, 5, 7, 11 as (B, 768, 32, 32) maps; drop path 0.1; the position embedding is learnable here
#     (fine-tuned from the pre-trained one, resized from 14x14 to 32x32 patches on load, as MAE / BEiT fine-tuning
#     does); final_norm=True: block 11's map goes through the pre-trained final LayerNorm, so a strict load uses
#     every tensor of the pre-trained encoder (mmseg's MAE has final_norm=False and drops the final norm only because
#     it loads with strict=False);
#   * neck: MultiLevelNeck rescales the four maps x4, x2, x1, x0.5 to a (128, 64, 32, 16) pyramid of 768 channels;
#   * heads: UPerHead (768 channels, pool scales 1, 2, 3, 6) on the pyramid and an auxiliary FCNHead on its third
#     level (loss weight 0.4); sliding-window test (512 crops, stride 341).
# The heads' BN is plain BN here and sync_bn='torch' synchronises it across GPUs when training is distributed (as
# mmseg's SyncBN; tools/train.py keeps it per process on CPU-only gloo runs, where SyncBatchNorm cannot run).
from mmengine.config import read_base
from mmseg.models import EncoderDecoder, SegDataPreProcessor
from mmseg.models.decode_heads import FCNHead, UPerHead
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.necks import MultiLevelNeck

with read_base():
    from ...._base_.models.lgp_vit_b import backbone

num_classes = 150
norm_cfg = dict(type='BN', requires_grad=True)
sync_bn = 'torch'
model = dict(
    type=EncoderDecoder,
    data_preprocessor=dict(
        type=SegDataPreProcessor,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(512, 512),
    ),
    backbone=dict(
        backbone,
        img_size=512,
        out_type='featmap',
        out_indices=[3, 5, 7, 11],
        pos_embed_type='learnable',
        drop_path_rate=0.1,
        final_norm=True,
    ),
    neck=dict(type=MultiLevelNeck, in_channels=[768, 768, 768, 768], out_channels=768, scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type=UPerHead,
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=768,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type=CrossEntropyLoss, use_sigmoid=False, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        type=FCNHead,
        in_channels=768,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type=CrossEntropyLoss, use_sigmoid=False, loss_weight=0.4),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)
del backbone
