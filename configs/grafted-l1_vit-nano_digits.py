# CPU twin of grafted_vit-l.py: the nano graft (grafted_vit-nano_digits.py) with the L1 pull (weight 1e-5) of the
# embeddings and blocks 0-2 of 6 (as 0-11 of 24) toward their MAE weights, and activation checkpointing; 4 epochs.
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mocov3 import *
    from ._base_.models.grafted_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.grafted_adamw_fp32 import *

model.update(anchor_weight=1e-5, anchor_blocks=3)
model.backbone.with_cp = True
