# Study row and demo CL baseline: MoCo v3 from scratch on the digits with the nano LGPViT, 15 epochs (2 of warm-up),
# AdamW lr 1e-3 at batch 64 as every study run. Run by tools/study.py and tools/demo.py.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.digits_mocov3 import *
    from .._base_.models.mocov3_vit_nano import *
    from .._base_.schedules.cosine_4e import *
    from .._base_.schedules.mocov3_adamw_fp32 import *
    from ._base_.study_runtime import *

train_cfg.max_epochs = 15
param_scheduler[0].end = param_scheduler[1].begin = 2
train_dataloader.batch_size = 64
optim_wrapper.optimizer.lr = 1e-3
auto_scale_lr.enable = False
