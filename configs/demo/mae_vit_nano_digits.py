# Demo, step 1: MAE on the digits with the nano LGPViT, 20 epochs (2 of warm-up). The demo's three pre-trainings
# share one optimiser setting sized for this scale (AdamW lr 1e-3 at batch 64, no auto_scale_lr); each method keeps
# its own recipe otherwise. Run by tools/demo.py.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.digits_mae import *
    from .._base_.default_runtime import *
    from .._base_.models.mae_vit_nano import *
    from .._base_.schedules.cosine_4e import *
    from .._base_.schedules.mae_adamw_fp32 import *

max_epochs = 20
warmup_epochs = 2
param_scheduler[0].end = warmup_epochs
param_scheduler[1].update(T_max=max_epochs - warmup_epochs, begin=warmup_epochs, end=max_epochs)
train_cfg.max_epochs = max_epochs
optim_wrapper.optimizer.lr = 1e-3
auto_scale_lr.enable = False
default_hooks.checkpoint.update(interval=max_epochs, max_keep_ckpts=1)
default_hooks.logger.interval = 11
randomness = dict(seed=0, diff_rank_seed=True)
