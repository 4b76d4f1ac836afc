# mae_vit_b.py at CPU scale: the nano LGPViT (lgp_vit_b.py) and a small decoder (64 dims, 2 blocks, 4 heads).
from mmengine.config import read_base

with read_base():
    from .lgp_vit_b import nano
    from .mae_vit_b import *

model.backbone.update(nano)
model.neck.update(
    num_patches=64, patch_size=4, embed_dim=48, decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4
)
model.head.patch_size = 4
del nano
