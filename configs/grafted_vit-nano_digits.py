# CPU twin of grafted_vit-b.py: Layer Grafted Pre-training on the nano LGPViT (cls_token and blocks 0-3 of 6 at 0.1x,
# blocks 4-5 at 1x) from the MAE CPU twin's last checkpoint, 4 epochs on the digits.
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mocov3 import *
    from ._base_.models.grafted_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.grafted_adamw_fp32 import *
