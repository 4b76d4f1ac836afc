# CPU twin of grafted_vit-l.py: Layer Grafted Pre-training with the L1 pull (weight 1e-5) of cls_token and the lower
# half of the blocks (0-2 of 6, as 0-11 of 24) toward their MAE weights, activation checkpointing on; nano LGPViT,
# digits, 4 epochs.
from mmengine.config import read_base

from lgp.models import GraftedMoCoV3

with read_base():
    from ._base_.datasets.digits_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.mocov3_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mocov3_adamw_fp32 import *

# step 1: the quick start's MAE run (configs/mae_vit-nano_digits.py --work-dir work_dirs/quickstart)
mae_checkpoint = 'work_dirs/quickstart/epoch_20.pth'

model.update(type=GraftedMoCoV3, anchor_weight=1e-5, anchor_blocks=(0, 3))
model.backbone.update(with_cp=True, init_cfg=dict(type='Pretrained', checkpoint=mae_checkpoint))
optim_wrapper.paramwise_cfg = dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4')
default_hooks.logger.interval = 10
randomness = dict(seed=0, diff_rank_seed=True)
