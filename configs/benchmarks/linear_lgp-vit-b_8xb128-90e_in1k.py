# Linear probe of an LGP ViT-B/16 on ImageNet-1k (mmpretrain's MoCo v3 ViT benchmark): frozen encoder, CLS token after
# the final norm, parameter-free BatchNorm + linear head; SGD lr 12 at batch 1024, momentum 0.9, no weight decay,
# cosine over 90 epochs; train RandomResizedCrop 224 + flip, test Resize 256 + CenterCrop 224. The protocols, their
# sources and lgp's departures: docs/recipes.md.
#   tools/dist_train.sh configs/benchmarks/linear_lgp-vit-b_8xb128-90e_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth
from mmengine.config import read_base

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.imagenet_linear import *
    from ._base_.models.lgp_vit_b_linear import *
    from ._base_.schedules.linear_sgd_coslr_90e import *

default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater')
