# MoCo v3's optimisation (Chen et al., 2021; the official code): mae_adamw.py with betas (0.9, 0.999) and weight decay
# 0.1 on every trained tensor (AdamW over model.parameters()); lr 1.5e-4 x batch / 256, bf16 autocast, no gradient
# clipping. The batch is never emulated by gradient accumulation: the contrastive negatives and the BN statistics come
# from the real batch.
from mmengine.config import read_base

with read_base():
    from .mae_adamw import *

optim_wrapper.optimizer.update(betas=(0.9, 0.999), weight_decay=0.1)
optim_wrapper.paramwise_cfg.weight_decay_rule = 'all'
# the heads' BatchNorm is synchronised across GPUs (converted by mmengine when training is distributed)
sync_bn = 'torch'
