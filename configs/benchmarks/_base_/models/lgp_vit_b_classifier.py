# An ImageNet classifier on an LGP ViT-B/16: the CLS token after the final norm into a linear head over 1000
# classes. `pretrained` is any checkpoint lgp reads (lgp / MAE / MoCo v3 / original release; online encoder), loaded
# strictly. The linear-probe and fine-tune models change the backbone's training and the head.
from mmengine.config import read_base
from mmpretrain.models import ImageClassifier, LinearClsHead

with read_base():
    from ...._base_.models.lgp_vit_b import backbone

pretrained = 'checkpoints/lgp_vit-b.pth'
model = dict(
    type=ImageClassifier,
    backbone=dict(backbone, out_type='cls_token', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=None,
    head=dict(type=LinearClsHead, num_classes=1000, in_channels=768),
)
del backbone
