# Layer Grafted Pre-training's optimisation (the original release): mocov3_adamw.py with its weight-decay rule,
# param_groups_lrd_moco, which exempts 1-D tensors (norms, biases) and decays cls_token. The lr of each block comes
# from the model (GraftedMoCoV3.block_lr_groups).
from mmengine.config import read_base

with read_base():
    from .mocov3_adamw import *

optim_wrapper.paramwise_cfg.weight_decay_rule = 'skip_1d'
