# conmim_vit_b.py at CPU scale: the nano LGPViT (lgp_vit_b.py) in BEiT's style; projector 48 -> 128 -> 128 -> 32.
from mmengine.config import read_base

with read_base():
    from .conmim_vit_b import *
    from .lgp_vit_b import nano

model.backbone.update(nano)
model.neck.update(in_channels=48, hid_channels=128, out_channels=32)
del nano
