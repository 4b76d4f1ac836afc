# Study row and demo step 2: Layer Grafted Pre-training, the nano graft (configs/_base_/models/grafted_vit_nano.py:
# cls_token and blocks 0-3 of 6 at 0.1x) from the study's MAE weights, with the original step 2's weight-decay rule;
# otherwise the study's MoCo v3 run (15 epochs). The study sets the MAE checkpoint (model.step1.checkpoint).
from mmengine.config import read_base

with read_base():
    from .._base_.models.grafted_vit_nano import model as grafted_model
    from .mocov3_vit_nano_digits import *

model = grafted_model
del grafted_model
model.step1.checkpoint = 'work_dirs/study/mae/epoch_20.pth'
optim_wrapper.paramwise_cfg.weight_decay_rule = 'skip_1d'
