# grafted_vit_b.py at CPU scale: the graft with the nano MoCo v3 parts (mocov3_vit_nano.py), its lower 4 of 6 blocks
# (as 8 of 12) at 0.1x, from the MAE CPU twin's last checkpoint (configs/mae_vit-nano_digits.py).
from mmengine.config import read_base

with read_base():
    from .grafted_vit_b import *
    from .mocov3_vit_nano import model as nano_model

model.update(
    backbone=nano_model.backbone,
    neck=nano_model.neck,
    head=nano_model.head,
    step1=dict(checkpoint='work_dirs/mae_vit-nano_digits/epoch_20.pth'),
    lower_blocks=4,
)
del nano_model
