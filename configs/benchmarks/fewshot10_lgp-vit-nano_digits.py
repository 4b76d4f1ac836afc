# CPU twin of fewshot10_lgp-vit-b_8xb32-200e_in1k.py: the nano LGPViT fine-tuned on the digits' 10 % split
# (meta/train_10percent.txt, written by the digits converter) with the projector-initialised head (48 -> 128, BN, ReLU
# from the nano MoCo v3 projector, then 128 -> 10), layer decay 0.75, lr 3e-5 x batch / 256, 10 epochs; float32.
#
#   python tools/train.py configs/benchmarks/fewshot10_lgp-vit-nano_digits.py --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth \
#       model.head.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
#
# Encoder and projector come from `pretrained` below; to use another checkpoint override both
# model.backbone.init_cfg.checkpoint=PATH and model.head.init_cfg.checkpoint=PATH.
from mmengine.config import read_base
from mmengine.optim import OptimWrapper
from mmpretrain.datasets import CustomDataset

from lgp.models.heads import ProjectorClsHead

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.digits_finetune import *
    from ._base_.models.lgp_vit_b_finetune import *
    from ._base_.schedules.finetune_adamw_coslr_100e import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(arch='nano', img_size=32, patch_size=4)
model.backbone.init_cfg.checkpoint = pretrained
model.head = dict(
    type=ProjectorClsHead,
    num_classes=num_classes,
    in_channels=48,
    hid_channels=128,
    with_norm_act=True,
    loss=model.head.loss,
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
)
train_dataloader.dataset = dict(
    type=CustomDataset,
    data_root=data_root,
    ann_file='meta/train_10percent.txt',
    data_prefix='',
    pipeline=train_pipeline,
)
train_dataloader.batch_size = 32
base_lr = 3e-5 * 256 / 256
optim_wrapper.type = OptimWrapper
optim_wrapper.pop('dtype')
optim_wrapper.optimizer.lr = base_lr
optim_wrapper.paramwise_cfg = dict(layer_decay=0.75)
auto_scale_lr = dict(base_batch_size=256, enable=True)
max_epochs = 10
warmup_epochs = 1
param_scheduler[0].end = warmup_epochs
param_scheduler[1].update(
    T_max=max_epochs - warmup_epochs, begin=warmup_epochs, end=max_epochs, eta_min_ratio=min_lr / base_lr
)
train_cfg.update(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks.logger.interval = 10
default_hooks.checkpoint.update(interval=max_epochs, max_keep_ckpts=1)
randomness = dict(seed=0)
