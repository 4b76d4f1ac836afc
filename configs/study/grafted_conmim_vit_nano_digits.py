# Study row: Layer Grafted Pre-training from the study's ConMIM weights: the Layer Grafted row (MoCo v3, cls_token and
# blocks 0-3 of 6 at 0.1x) on the BEiT-style encoder it grafts. The study sets the ConMIM checkpoint
# (model.step1.checkpoint).
from mmengine.config import read_base

with read_base():
    from .._base_.models.conmim_vit_b import beit_style
    from .grafted_vit_nano_digits import *

model.backbone.update(beit_style)
model.step1.checkpoint = 'work_dirs/study/conmim/epoch_20.pth'
del beit_style
