# CPU twin of grafted_vit-b.py: Layer Grafted Pre-training on the nano LGPViT (6 blocks: cls_token and blocks 0-3 at
# 0.1x, blocks 4-5 at 1x) from the quick start's MAE checkpoint, 4 epochs on the digits.
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

model.type = GraftedMoCoV3
model.backbone.init_cfg = dict(type='Pretrained', checkpoint=mae_checkpoint)
optim_wrapper.paramwise_cfg = dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4')
default_hooks.logger.interval = 10
randomness = dict(seed=0, diff_rank_seed=True)
