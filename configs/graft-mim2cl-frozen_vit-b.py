# The MIM -> CL grafting baseline with the lower layers fixed (paper, Table 1): the graft of grafted_vit-b.py with the
# embeddings and blocks 0-7 frozen (lower_lr_mult=0: requires_grad=False) instead of trained at 0.1x, 100 epochs
# (10 warm-up). Without layer-wise lrs the original release's code decays every trained tensor (as MoCo v3).
#   tools/dist_train.sh configs/graft-mim2cl-frozen_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.grafted_vit_b import *
    from ._base_.schedules.cosine_100e import *
    from ._base_.schedules.mocov3_adamw import *

model.lower_lr_mult = 0.0
