# CPU twin of graft-mim2cl-frozen_vit-b.py: MoCo v3 from the quick start's MAE weights with the embeddings and
# blocks 0-3 of 6 frozen, nano LGPViT, digits, 4 epochs.
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.digits_mocov3 import *
    from ._base_.default_runtime import *
    from ._base_.models.mocov3_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mocov3_adamw_fp32 import *

# step 1: the quick start's MAE run (configs/mae_vit-nano_digits.py --work-dir work_dirs/quickstart)
mae_checkpoint = 'work_dirs/quickstart/epoch_20.pth'

model.backbone.update(frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint=mae_checkpoint))
default_hooks.logger.interval = 10
randomness = dict(seed=0, diff_rank_seed=True)
