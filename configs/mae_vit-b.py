# Step 1 of Layer Grafted Pre-training: MAE (MIM) on ImageNet-1k, ViT-B/16, 1600 epochs (the schedule of the official
# MAE release that the paper grafts from). Batch 8 GPUs x 512 = 4096 at lr 2.4e-3 (26 GiB peak per 80 GB H100 in bf16;
# auto_scale_lr rescales the lr for other totals). The recipe, its sources and lgp's departures: docs/recipes.md.
#   tools/dist_train.sh configs/mae_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mae import *
    from ._base_.default_runtime import *
    from ._base_.models.mae_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.mae_adamw import *

train_cfg.max_epochs = 1600
default_hooks.checkpoint.interval = 20
