# CPU twin of mocov3_vit-b.py: MoCo v3 from scratch on the nano LGPViT and the digits, 4 epochs.
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mocov3 import *
    from ._base_.models.mocov3_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mocov3_adamw_fp32 import *
