# mtl_vit_b.py at CPU scale: the nano MoCo v3 model with the nano MAE decoder.
from mmengine.config import read_base

from lgp.models import MTLMAEMoCoV3

with read_base():
    from .mae_vit_nano import model as mae_model
    from .mocov3_vit_nano import *

model.update(type=MTLMAEMoCoV3, mim_neck=mae_model.neck, mim_head=mae_model.head, cl_weight=1.0)
model.backbone.mask_ratio = mae_model.backbone.mask_ratio
