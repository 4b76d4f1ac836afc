# Quick start, and the CPU twin of mae_vit-b.py: MAE pre-training of the nano LGPViT on scikit-learn's handwritten
# digits, 20 epochs (2 of warm-up), about a minute on 2 CPU cores.
# Data: python tools/dataset_converters/digits_to_imagenet.py data/digits
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.digits_mae import *
    from ._base_.default_runtime import *
    from ._base_.models.mae_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mae_adamw_fp32 import *

max_epochs = 20
warmup_epochs = 2
param_scheduler[0].end = warmup_epochs
param_scheduler[1].update(T_max=max_epochs - warmup_epochs, begin=warmup_epochs, end=max_epochs)
train_cfg.max_epochs = max_epochs
default_hooks.logger.interval = 5
randomness = dict(seed=0, diff_rank_seed=True)
