# CPU twin of conmim_vit-b.py: ConMIM on the nano BEiT-style LGPViT and the digits (block masks of 24 of 64 patches,
# in proportion), 20 epochs with 2 of warm-up. Data: python tools/dataset_converters/digits_to_imagenet.py data/digits
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_conmim import *
    from ._base_.models.conmim_vit_nano import *
    from ._base_.schedules.conmim_adamw_fp32 import *

train_cfg.max_epochs = 20
param_scheduler[0].end = param_scheduler[1].begin = 2
default_hooks.logger.interval = 5
