# CPU twin of graft-cl2mim_vit-b.py: MAE from MoCo v3 weights with the embeddings and blocks 0-3 of 6 frozen,
# nano LGPViT, digits, 4 epochs.
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.digits_mae import *
    from ._base_.default_runtime import *
    from ._base_.models.mae_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mae_adamw_fp32 import *

# step 1: the CPU MoCo v3 run (configs/mocov3_vit-nano_digits.py)
mocov3_checkpoint = 'work_dirs/mocov3_vit-nano_digits/epoch_4.pth'

model.backbone.update(frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint=mocov3_checkpoint))
default_hooks.logger.interval = 10
randomness = dict(seed=0, diff_rank_seed=True)
