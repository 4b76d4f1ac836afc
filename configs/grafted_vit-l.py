# Layer Grafted Pre-training, step 2, ViT-L/16: as grafted_vit-b.py, with 24 blocks split 16 low (0.1x, with
# cls_token) / 8 high (1x), and an L1 pull of blocks 0-11 and cls_token toward their MAE weights:
#   L = L_CL + 1e-5 * sum |theta - theta_MAE|.
# The original batch is 2080 (lr 1.5e-4 x 2080 / 256); here 8 GPUs x 256 = 2048 with activation checkpointing (22 GiB
# peak per 80 GB H100 in bf16; without it 256 does not fit), the lr scaled linearly by auto_scale_lr to 1.2e-3.
#   tools/dist_train.sh configs/grafted_vit-l.py 8
from mmengine.config import read_base

from lgp.models import GraftedMoCoV3

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.mocov3_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.mocov3_adamw import *

# step 1: the official MAE release (mae_pretrain_vit_large.pth) or an lgp MAE ViT-L checkpoint
mae_checkpoint = 'checkpoints/mae_pretrain_vit_large.pth'

model.update(type=GraftedMoCoV3, anchor_weight=1e-5, anchor_blocks=(0, 12))
model.backbone.update(arch='l', with_cp=True, init_cfg=dict(type='Pretrained', checkpoint=mae_checkpoint))
model.neck.in_channels = 1024
optim_wrapper.paramwise_cfg = dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4')
train_dataloader.batch_size = 256
default_hooks.checkpoint.interval = 10
