# Study row: CMAE on the digits with the nano LGPViT (configs/cmae_vit-nano_digits.py: 2x2-patch masking units, the
# pixel-shifting views at 32 px), 20 epochs (2 of warm-up) as the MAE row, AdamW lr 1e-3 at batch 64 as every study
# run. Its checkpoint is also step 1 of the row "Layer Grafted from CMAE".
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.digits_cmae import *
    from .._base_.models.cmae_vit_nano import *
    from .._base_.schedules.cmae_adamw_fp32 import *
    from .._base_.schedules.cosine_4e import *
    from ._base_.study_runtime import *

train_cfg.max_epochs = 20
param_scheduler[0].end = param_scheduler[1].begin = 2
optim_wrapper.optimizer.lr = 1e-3
auto_scale_lr.enable = False
