# mocov3_vit_b.py at CPU scale: the nano LGPViT (48 dims, 6 blocks) on 32x32 images, patch 4; heads 48 -> 128 -> 128
# -> 32 and 32 -> 128 -> 32.
from mmengine.config import read_base

with read_base():
    from .mocov3_vit_b import *

model.backbone.update(arch='nano', img_size=32, patch_size=4)
model.neck.update(in_channels=48, hid_channels=128, out_channels=32)
model.head.predictor.update(in_channels=32, hid_channels=128, out_channels=32)
