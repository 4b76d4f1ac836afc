# Linear probe on a frozen LGP ViT-B/16: all 12 blocks, the embeddings and the final norm frozen (frozen_stages=12,
# kept in eval mode), the CLS token after the final norm, a parameter-free BatchNorm then a linear layer.
# `pretrained` is any checkpoint lgp reads (lgp / MAE / MoCo v3 / original release; online encoder), loaded strictly.
from mmpretrain.models import CrossEntropyLoss, ImageClassifier

from lgp.models import LGPViT
from lgp.models.heads import LinearProbeHead

pretrained = 'checkpoints/lgp_vit-b.pth'
model = dict(
    type=ImageClassifier,
    backbone=dict(
        type=LGPViT,
        arch='b',
        img_size=224,
        patch_size=16,
        out_type='cls_token',
        frozen_stages=12,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    neck=None,
    head=dict(type=LinearProbeHead, num_classes=1000, in_channels=768, loss=dict(type=CrossEntropyLoss), topk=(1, 5)),
)
