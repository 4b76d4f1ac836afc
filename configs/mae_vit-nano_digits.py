# Quick start: MAE pre-training of the nano LGPViT on scikit-learn's handwritten digits, about a minute on 2 CPU
# cores. Data: python tools/dataset_converters/digits_to_imagenet.py data/digits
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.digits_mae import *  # noqa: F401,F403
    from ._base_.default_runtime import *  # noqa: F401,F403
    from ._base_.models.mae_vit_nano import *  # noqa: F401,F403
    from ._base_.schedules.mae_adamw_coslr_20e import *  # noqa: F401,F403

default_hooks.logger.interval = 5  # noqa: F405
randomness = dict(seed=0, diff_rank_seed=True)
