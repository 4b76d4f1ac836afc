# The MIM -> CL grafting baseline with the lower layers fixed (paper, Table 1): MoCo v3 started from MAE weights with
# the embeddings and blocks 0-7 frozen (requires_grad=False, not lr 0), 100 epochs (10 warm-up). Layer Grafted
# Pre-training (grafted_vit-b.py) differs by training those blocks at 0.1x instead.
#   tools/dist_train.sh configs/graft-mim2cl-frozen_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.mocov3_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.mocov3_adamw import *

# step 1: the official MAE release (mae_pretrain_vit_base.pth) or the last checkpoint of configs/mae_vit-b.py
mae_checkpoint = 'checkpoints/mae_pretrain_vit_base.pth'

model.backbone.update(frozen_stages=8, init_cfg=dict(type='Pretrained', checkpoint=mae_checkpoint))
max_epochs = 100
warmup_epochs = 10
param_scheduler[0].end = warmup_epochs
param_scheduler[1].update(T_max=max_epochs - warmup_epochs, begin=warmup_epochs, end=max_epochs)
train_cfg.max_epochs = max_epochs
