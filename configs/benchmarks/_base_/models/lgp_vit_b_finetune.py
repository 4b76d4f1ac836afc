# Fine-tuning an LGP ViT-B/16 (MAE's recipe): drop path 0.1, the CLS token after the final norm, a linear head
# (truncated normal init, std 2e-5), label smoothing 0.1, Mixup (alpha 0.8) or CutMix (alpha 1.0) on each batch (one of
# the two, even odds: timm's switch probability 0.5). The fixed sin-cos position embedding stays fixed, as in the
# original release's ViT.
from mmpretrain.models import CutMix, ImageClassifier, LabelSmoothLoss, LinearClsHead, Mixup

from lgp.models import LGPViT

pretrained = 'checkpoints/lgp_vit-b.pth'
model = dict(
    type=ImageClassifier,
    backbone=dict(
        type=LGPViT,
        arch='b',
        img_size=224,
        patch_size=16,
        out_type='cls_token',
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
    ),
    neck=None,
    head=dict(
        type=LinearClsHead,
        num_classes=1000,
        in_channels=768,
        loss=dict(type=LabelSmoothLoss, label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5),
    ),
    train_cfg=dict(augments=[dict(type=Mixup, alpha=0.8), dict(type=CutMix, alpha=1.0)]),
)
