# CPU twin of fewshot10_lgp-vit-b_8xb32-200e_in1k.py: the nano LGPViT fine-tuned on the digits' 10 % split
# (meta/train_10percent.txt, written by the digits converter) with the projector-initialised head (48 -> 128 from the
# nano MoCo v3 projector, then 128 -> 10), layer decay 0.75, lr 3e-5 x batch / 256, 10 epochs; float32.
#   python tools/train.py configs/benchmarks/fewshot10_lgp-vit-nano_digits.py --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth \
#       model.head.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
from mmengine.config import read_base
from mmengine.optim import OptimWrapper

with read_base():
    from .._base_.cpu_runtime_last import *
    from .._base_.models.lgp_vit_b import nano
    from ._base_.datasets.digits_finetune import *
    from ._base_.fewshot10 import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(nano)
model.backbone.init_cfg.checkpoint = model.head.init_cfg.checkpoint = pretrained
model.head.update(num_classes=num_classes, in_channels=48, hid_channels=128)
train_dataloader.update(batch_size=32)
train_dataloader.dataset.update(ann_file='meta/train_10percent.txt', data_prefix='')
optim_wrapper.type = OptimWrapper
optim_wrapper.pop('dtype')
param_scheduler[0].end = param_scheduler[1].begin = 1
train_cfg.update(max_epochs=10, val_interval=10)
del nano
