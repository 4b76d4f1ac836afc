# Full fine-tuning of an LGP ViT-B/16 on ImageNet-1k (MAE's recipe, as the original release's main_finetune_mae.py):
# AdamW lr 5e-4 x batch / 256 (2e-3 at batch 1024), betas (0.9, 0.999), wd 0.05, layer decay 0.6, drop path 0.1,
# RandAugment m9 mstd 0.5, RandomErasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, 5 warm-up epochs then cosine
# to 1e-6, 100 epochs, bf16 autocast. The protocols, their sources and lgp's departures: docs/recipes.md.
#   tools/dist_train.sh configs/benchmarks/finetune_lgp-vit-b_8xb128-100e_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth
from mmengine.config import read_base

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.imagenet_finetune import *
    from ._base_.models.lgp_vit_b_finetune import *
    from ._base_.schedules.finetune_adamw_coslr_100e import *

default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater')
