# CPU twin of mae_vit-b.py: MAE on the nano LGPViT and scikit-learn's handwritten digits, 20 epochs (2 of warm-up),
# about a minute on 2 CPU cores. Data: python tools/dataset_converters/digits_to_imagenet.py data/digits
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.digits_mae import *
    from ._base_.models.mae_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mae_adamw_fp32 import *

train_cfg.max_epochs = 20
param_scheduler[0].end = param_scheduler[1].begin = 2
default_hooks.logger.interval = 5
