# The CL baseline: MoCo v3 on ImageNet-1k from scratch, ViT-B/16, 300 epochs (40 warm-up), AdamW wd 0.1 on every
# trained tensor (the official recipe), bf16. Batch 8 GPUs x 512 = 4096 at lr 2.4e-3 (auto_scale_lr rescales the lr
# for other totals). The recipe, its sources and lgp's departures: docs/recipes.md.
#   tools/dist_train.sh configs/mocov3_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.mocov3_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.mocov3_adamw import *

default_hooks.checkpoint.interval = 10
