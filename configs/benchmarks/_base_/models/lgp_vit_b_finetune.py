# Fine-tuning an LGP ViT-B/16 (MAE's recipe): drop path 0.1, the CLS token after the final norm, a linear head
# (truncated normal init, std 2e-5), label smoothing 0.1, Mixup (alpha 0.8) or CutMix (alpha 1.0) on each batch (one of
# the two, even odds: timm's switch probability 0.5). The fixed sin-cos position embedding stays fixed, as in the
# original release's ViT.
from mmengine.config import read_base
from mmpretrain.models import CutMix, LabelSmoothLoss, Mixup

with read_base():
    from .lgp_vit_b_classifier import *

model.backbone.drop_path_rate = 0.1
model.head.update(
    loss=dict(type=LabelSmoothLoss, label_smooth_val=0.1, mode='original'),
    init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5),
)
model.train_cfg = dict(augments=[dict(type=Mixup, alpha=0.8), dict(type=CutMix, alpha=1.0)])
