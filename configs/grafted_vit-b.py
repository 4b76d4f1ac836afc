# Layer Grafted Pre-training (MIM -> CL), step 2, ViT-B/16 on ImageNet-1k: MoCo v3 continued from MAE weights, the
# lower blocks at 0.1x. The graft itself (what comes from step 1, what is frozen, which blocks move at which lr, the L1
# pull) is _base_/models/grafted_vit_b.py; 300 epochs, 40 warm-up, AdamW wd 0.1 (none on 1-D tensors, as the original
# release), bf16. Batch 8 GPUs x 512 = 4096 at lr 2.4e-3, the recipe's (63 GiB peak per 80 GB H100); on fewer or smaller
# GPUs lower the per-GPU batch and auto_scale_lr scales the lr linearly. No gradient accumulation: contrastive negatives
# and BN statistics need the real batch. The recipe, its sources and lgp's departures: docs/recipes.md.
#   tools/dist_train.sh configs/grafted_vit-b.py 8 \
#       --cfg-options model.step1.checkpoint=work_dirs/mae_vit-b/epoch_1600.pth
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.grafted_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.grafted_adamw import *

default_hooks.checkpoint.interval = 10
