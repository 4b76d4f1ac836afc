# CPU twin of mtl_vit-b.py: the MTL combination (L_MIM + L_CL on one encoder) on the nano LGPViT and the digits,
# 4 epochs, with the gradient conflict per block logged every 20 iterations.
from mmengine.config import read_base

from lgp.engine import GradientConflictHook

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mtl import *
    from ._base_.models.mtl_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mocov3_adamw_fp32 import *

custom_hooks = [dict(type=GradientConflictHook, interval=20)]
