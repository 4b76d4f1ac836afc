# Layer Grafted Pre-training (MIM -> CL), step 2, ViT-B/16 on ImageNet-1k: MoCo v3 started from MAE weights.
#   * backbone and momentum encoder start from the MAE checkpoint below (or --cfg-options
#     model.backbone.init_cfg.checkpoint=PATH); the patch embedding stays at its MAE weights (stop-gradient) and the
#     position embedding is the fixed 2-D sin-cos one;
#   * lower blocks learn slowly: cls_token and blocks 0-7 at 0.1x, blocks 8-11, the final norm, the projector and the
#     predictor at 1x (the original flag --lr_layer_wise 1.5e-5,1.5e-5,1.5e-4: three equal groups of 4 blocks);
#   * 300 epochs, 40 warm-up, AdamW wd 0.1, bf16. Batch 8 GPUs x 512 = 4096 at lr 2.4e-3, the recipe's (63 GiB peak per
#     80 GB H100, no activation checkpointing needed); on fewer or smaller GPUs lower the per-GPU batch and
#     auto_scale_lr scales the lr linearly. No gradient accumulation: contrastive negatives and BN statistics need the
#     real batch.
#   tools/dist_train.sh configs/grafted_vit-b.py 8
from mmengine.config import read_base

from lgp.models import GraftedMoCoV3

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.mocov3_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.mocov3_adamw import *

# step 1: the official MAE release (mae_pretrain_vit_base.pth) or the last checkpoint of configs/mae_vit-b.py
mae_checkpoint = 'checkpoints/mae_pretrain_vit_base.pth'

model.type = GraftedMoCoV3
model.backbone.init_cfg = dict(type='Pretrained', checkpoint=mae_checkpoint)
optim_wrapper.paramwise_cfg = dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4')
default_hooks.checkpoint.interval = 10
