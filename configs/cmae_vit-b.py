# CMAE (Contrastive Masked Autoencoders) on ImageNet-1k, ViT-B/16, 1600 epochs (40 warm-up, cosine), the official
# recipe: AdamW (0.9, 0.95), wd 0.05 (none on LayerNorms, biases and tokens), lr 1.5e-4 x batch / 256 = 2.4e-3 at 4096,
# bf16. Batch 8 GPUs x 512 = 4096 (the official 32 x 128); auto_scale_lr rescales the lr for other totals. A step saves
# 1.15x the activations of MAE's at the same batch (counted on the CPU, docs/recipes.md), so at 512 a GPU should peak
# near 30 GiB against MAE's measured 26 GiB on an 80 GB H100: derived, not measured on a GPU. The official code trains
# 300, 800 or 1600 epochs; set train_cfg.max_epochs. The recipe, its sources and lgp's departures: docs/recipes.md.
#   tools/dist_train.sh configs/cmae_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_cmae import *
    from ._base_.default_runtime import *
    from ._base_.models.cmae_vit_b import *
    from ._base_.schedules.cmae_adamw import *
    from ._base_.schedules.cosine_300e import *

train_cfg.max_epochs = 1600
default_hooks.checkpoint.interval = 20
