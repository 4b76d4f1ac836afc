# Layer Grafted Pre-training, step 2, ViT-L/16: the graft of grafted_vit-b.py with 24 blocks split 16 low (0.1x, with
# cls_token) / 8 high (1x), and an L1 pull of the embeddings and blocks 0-11 toward their MAE weights:
#   L = L_CL + 1e-5 * sum |theta - theta_MAE|.
# The original batch is 2080 (lr 1.5e-4 x 2080 / 256); here 8 GPUs x 256 = 2048 with activation checkpointing (22 GiB
# peak per 80 GB H100 in bf16; without it 256 does not fit), the lr scaled linearly by auto_scale_lr to 1.2e-3.
#   tools/dist_train.sh configs/grafted_vit-l.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.grafted_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.grafted_adamw import *

# step 1: the official MAE release (mae_pretrain_vit_large.pth) or an lgp MAE ViT-L checkpoint
model.update(
    step1=dict(checkpoint='checkpoints/mae_pretrain_vit_large.pth'),
    lower_blocks=16,
    anchor_weight=1e-5,
    anchor_blocks=12,
)
model.backbone.update(arch='l', with_cp=True)
model.neck.in_channels = 1024
train_dataloader.batch_size = 256
default_hooks.checkpoint.interval = 10
