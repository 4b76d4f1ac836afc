# CPU twin of linear_lgp-vit-b_8xb128-90e_in1k.py: linear probe of the frozen nano LGPViT (48 dims, 6 blocks, 32 px) on
# the digits for 10 epochs; lr 12 x batch / 1024 (auto_scale_lr: 0.75 at batch 64).
#
#   python tools/train.py configs/benchmarks/linear_lgp-vit-nano_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
#
# The encoder comes from `pretrained` below (the CPU grafted pre-training's last checkpoint); override it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
from mmengine.config import read_base

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.digits_linear import *
    from ._base_.models.lgp_vit_b_linear import *
    from ._base_.schedules.linear_sgd_coslr_90e import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(arch='nano', img_size=32, patch_size=4, frozen_stages=6)
model.backbone.init_cfg.checkpoint = pretrained
model.head.update(num_classes=num_classes, in_channels=48)
max_epochs = 10
param_scheduler[0].update(T_max=max_epochs, end=max_epochs)
train_cfg.update(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks.logger.interval = 10
default_hooks.checkpoint.update(interval=max_epochs, max_keep_ckpts=1)
randomness = dict(seed=0)
