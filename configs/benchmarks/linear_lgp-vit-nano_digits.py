# CPU twin of linear_lgp-vit-b_8xb128-90e_in1k.py: linear probe of the frozen nano LGPViT (48 dims, 6 blocks, 32 px)
# on the digits for 10 epochs; lr 12 x batch / 1024 (auto_scale_lr: 0.75 at batch 64).
#   python tools/train.py configs/benchmarks/linear_lgp-vit-nano_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
from mmengine.config import read_base

with read_base():
    from .._base_.cpu_runtime_last import *
    from .._base_.models.lgp_vit_b import nano
    from ._base_.datasets.digits_linear import *
    from ._base_.models.lgp_vit_b_linear import *
    from ._base_.schedules.linear_sgd_coslr_90e import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(nano, frozen_stages=6)
model.backbone.init_cfg.checkpoint = pretrained
model.head.update(num_classes=num_classes, in_channels=48)
train_cfg.update(max_epochs=10, val_interval=10)
del nano
