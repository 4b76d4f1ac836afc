# Linear probe on a frozen LGP ViT-B/16: all 12 blocks, the embeddings and the final norm frozen (frozen_stages=12,
# kept in eval mode), the CLS token after the final norm, a parameter-free BatchNorm then a linear layer.
from mmengine.config import read_base
from mmpretrain.models import CrossEntropyLoss

from lgp.models.heads import LinearProbeHead

with read_base():
    from .lgp_vit_b_classifier import *

model.backbone.frozen_stages = 12
model.head = dict(
    type=LinearProbeHead, num_classes=1000, in_channels=768, loss=dict(type=CrossEntropyLoss), topk=(1, 5)
)
