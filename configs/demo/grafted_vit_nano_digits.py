# Demo, step 2: Layer Grafted Pre-training, MoCo v3 continued from the demo's MAE weights with cls_token and blocks
# 0-3 of 6 at 0.1x (the original's --lr_layer_wise flag), patch embedding kept at its MAE weights; 15 epochs as the
# MoCo v3 baseline. tools/demo.py sets the MAE checkpoint (model.backbone.init_cfg.checkpoint).
from mmengine.config import read_base

from lgp.models import GraftedMoCoV3

with read_base():
    from .mocov3_vit_nano_digits import *

model.type = GraftedMoCoV3
model.backbone.init_cfg = dict(type='Pretrained', checkpoint='work_dirs/demo/mae/epoch_20.pth')
optim_wrapper.paramwise_cfg = dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4')
