# Study row and demo step 1: MAE on the digits with the nano LGPViT, 20 epochs (2 of warm-up). Every study run shares
# one optimiser setting sized for this scale, chosen before any result was seen (AdamW lr 1e-3 at batch 64, no
# auto_scale_lr); each method keeps its own recipe otherwise. Run by tools/study.py and tools/demo.py.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.digits_mae import *
    from .._base_.models.mae_vit_nano import *
    from .._base_.schedules.cosine_4e import *
    from .._base_.schedules.mae_adamw_fp32 import *
    from ._base_.study_runtime import *

train_cfg.max_epochs = 20
param_scheduler[0].end = param_scheduler[1].begin = 2
optim_wrapper.optimizer.lr = 1e-3
auto_scale_lr.enable = False
