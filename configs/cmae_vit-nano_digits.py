# CPU twin of cmae_vit-b.py: CMAE on the nano LGPViT (2x2-patch masking units on its 8x8 grid) and the digits, with
# the pixel-shifting views at 32 px, 20 epochs (2 of warm-up) as the MAE twin. Data:
#   python tools/dataset_converters/digits_to_imagenet.py data/digits
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_cmae import *
    from ._base_.models.cmae_vit_nano import *
    from ._base_.schedules.cmae_adamw_fp32 import *
    from ._base_.schedules.cosine_4e import *

train_cfg.max_epochs = 20
param_scheduler[0].end = param_scheduler[1].begin = 2
default_hooks.logger.interval = 5
