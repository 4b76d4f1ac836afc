# 10 % few-shot fine-tuning of an LGP ViT-B/16 on ImageNet-1k (RECIPES.md "10% few-shot", the original release's
# main_finetune_mae.py --tuneFromFirstFC): trained on the 10 % list, the head is the pre-training projector's first
# layer (768 -> 4096, BN, ReLU; lgp.models.heads.ProjectorClsHead, loaded strictly from the same checkpoint) then a new
# 4096 -> 1000 layer; layer decay 0.75, lr 3e-5 x batch / 256, 200 epochs; everything else as the full fine-tune
# (AdamW wd 0.05, drop path 0.1, RandAugment, RandomErasing, Mixup / CutMix, label smoothing 0.1, 5 warm-up epochs,
# cosine to 1e-6). The original head has no BN / ReLU between its two layers: model.head.with_norm_act=False.
#
# The 10 % list: data/imagenet/meta/train_10percent.txt, one `train/<wnid>/<file>.JPEG <label>` a line (the original's
# format), e.g. python tools/dataset_converters/make_split.py data/imagenet data/imagenet/meta/train_10percent.txt
# --percent 10
#
#   tools/dist_train.sh configs/benchmarks/fewshot10_lgp-vit-b_8xb32-200e_in1k.py 8 --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth \
#       model.head.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth
#
# Encoder and projector come from `pretrained` below; to use another checkpoint override both
# model.backbone.init_cfg.checkpoint=PATH and model.head.init_cfg.checkpoint=PATH.
from mmengine.config import read_base
from mmpretrain.datasets import ImageNet

from lgp.models.heads import ProjectorClsHead

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.imagenet_finetune import *
    from ._base_.models.lgp_vit_b_finetune import *
    from ._base_.schedules.finetune_adamw_coslr_100e import *

pretrained = 'checkpoints/lgp_vit-b.pth'
model.backbone.init_cfg.checkpoint = pretrained
model.head = dict(
    type=ProjectorClsHead,
    num_classes=num_classes,
    in_channels=768,
    hid_channels=4096,
    with_norm_act=True,
    loss=model.head.loss,
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
)
train_dataloader.batch_size = 32
train_dataloader.dataset = dict(
    type=ImageNet, data_root=data_root, ann_file='meta/train_10percent.txt', data_prefix='', pipeline=train_pipeline
)
base_lr = 3e-5 * 256 / 256
optim_wrapper.optimizer.lr = base_lr
optim_wrapper.paramwise_cfg = dict(layer_decay=0.75)
auto_scale_lr = dict(base_batch_size=256, enable=True)
max_epochs = 200
param_scheduler[1].update(T_max=max_epochs - warmup_epochs, end=max_epochs, eta_min_ratio=min_lr / base_lr)
train_cfg.update(max_epochs=max_epochs, val_interval=10)
default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater')
# the head's BatchNorm is synchronised across GPUs (converted by mmengine when training is distributed)
sync_bn = 'torch'
