# mocov3_vit_b.py at CPU scale: the nano LGPViT (lgp_vit_b.py); heads 48 -> 128 -> 128 -> 32 and 32 -> 128 -> 32.
from mmengine.config import read_base

with read_base():
    from .lgp_vit_b import nano
    from .mocov3_vit_b import *

model.backbone.update(nano)
model.neck.update(in_channels=48, hid_channels=128, out_channels=32)
model.head.predictor.update(in_channels=32, hid_channels=128, out_channels=32)
del nano
