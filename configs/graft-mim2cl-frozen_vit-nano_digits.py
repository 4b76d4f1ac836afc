# CPU twin of graft-mim2cl-frozen_vit-b.py: the nano graft with the embeddings and blocks 0-3 of 6 frozen, 4 epochs.
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mocov3 import *
    from ._base_.models.grafted_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mocov3_adamw_fp32 import *

model.lower_lr_mult = 0.0
