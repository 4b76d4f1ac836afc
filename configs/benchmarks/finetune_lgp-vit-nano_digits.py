# CPU twin of finetune_lgp-vit-b_8xb128-100e_in1k.py: the nano LGPViT (6 blocks, 32 px) fine-tuned on the digits with
# the same recipe (layer decay 0.6 over 6 blocks, RandAugment, RandomErasing, Mixup / CutMix, label smoothing) for
# 10 epochs, 1 of warm-up; float32 (tools/train.py --amp adds bf16 autocast); lr 2e-3 x batch / 1024.
#   python tools/train.py configs/benchmarks/finetune_lgp-vit-nano_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
from mmengine.config import read_base
from mmengine.optim import OptimWrapper

with read_base():
    from .._base_.cpu_runtime_last import *
    from .._base_.models.lgp_vit_b import nano
    from ._base_.datasets.digits_finetune import *
    from ._base_.models.lgp_vit_b_finetune import *
    from ._base_.schedules.finetune_adamw_coslr_100e import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(nano)
model.backbone.init_cfg.checkpoint = pretrained
model.head.update(num_classes=num_classes, in_channels=48)
optim_wrapper.type = OptimWrapper
optim_wrapper.pop('dtype')
param_scheduler[0].end = param_scheduler[1].begin = 1
train_cfg.update(max_epochs=10, val_interval=10)
del nano
