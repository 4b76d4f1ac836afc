# CPU twin of graft-cl2mim_vit-b.py: MAE from the MoCo v3 CPU twin's weights with the embeddings and blocks 0-3 of 6
# frozen, nano LGPViT, digits, 4 epochs.
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mae import *
    from ._base_.models.mae_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mae_adamw_fp32 import *

model.backbone.update(
    frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint='work_dirs/mocov3_vit-nano_digits/epoch_4.pth')
)
