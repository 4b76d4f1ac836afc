# Study row: ConMIM on the digits with the nano BEiT-style LGPViT (configs/conmim_vit-nano_digits.py: block masks of 24
# of 64 patches, the basic and strong views of one crop), 20 epochs (2 of warm-up) as the MAE row, AdamW lr 1e-3 at
# batch 64 as every study run. The ablation rows derive from it; its checkpoint is also step 1 of "Layer Grafted from
# ConMIM".
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.digits_conmim import *
    from .._base_.models.conmim_vit_nano import *
    from .._base_.schedules.conmim_adamw_fp32 import *
    from ._base_.study_runtime import *

train_cfg.max_epochs = 20
param_scheduler[0].end = param_scheduler[1].begin = 2
optim_wrapper.optimizer.lr = 1e-3
auto_scale_lr.enable = False
