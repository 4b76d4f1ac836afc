# Study row: MIM -> CL grafting with the lower part fixed: the study's Layer Grafted run with the embeddings,
# cls_token and blocks 0-3 of 6 frozen (lower_lr_mult 0), 5 epochs with 1 of warm-up (the paper's step 2: 100 epochs
# with 10, a third of Layer Grafted's 300). The study sets the MAE checkpoint (model.step1.checkpoint).
from mmengine.config import read_base

with read_base():
    from .grafted_vit_nano_digits import *

model.lower_lr_mult = 0.0
train_cfg.max_epochs = 5
param_scheduler[0].end = param_scheduler[1].begin = 1
# without layer-wise lrs the original release optimises model.parameters() as MoCo v3 does: every tensor is decayed
optim_wrapper.paramwise_cfg.weight_decay_rule = 'all'
