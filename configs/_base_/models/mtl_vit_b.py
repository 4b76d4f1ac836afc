# The MTL combination baseline: MoCo v3 and MAE (decoder, head and masking of mae_vit_b.py) on one shared encoder,
# L = L_MIM + lambda * L_CL with lambda = 1.
from mmengine.config import read_base

from lgp.models import MTLMAEMoCoV3

with read_base():
    from .mae_vit_b import model as mae_model
    from .mocov3_vit_b import *

model.update(type=MTLMAEMoCoV3, mim_neck=mae_model.neck, mim_head=mae_model.head, cl_weight=1.0)
model.backbone.mask_ratio = mae_model.backbone.mask_ratio
