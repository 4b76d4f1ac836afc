# 10 % few-shot fine-tuning of an LGP ViT-B/16 on ImageNet-1k (the original release's main_finetune_mae.py
# --tuneFromFirstFC; _base_/fewshot10.py): the pre-training projector's first layer + a new linear layer on the 10 %
# list, layer decay 0.75, lr 3e-5 x batch / 256, 200 epochs. Encoder and projector come from `pretrained`; to use
# another checkpoint override both model.backbone.init_cfg.checkpoint=PATH and model.head.init_cfg.checkpoint=PATH.
#   tools/dist_train.sh configs/benchmarks/fewshot10_lgp-vit-b_8xb32-200e_in1k.py 8 --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth \
#       model.head.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth
from mmengine.config import read_base

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.imagenet_finetune import *
    from ._base_.fewshot10 import *

train_dataloader.batch_size = 32
train_dataloader.dataset.update(ann_file='meta/train_10percent.txt', data_prefix='')
default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater')
# the head's BatchNorm (with_norm_act=True) is synchronised across GPUs (converted by mmengine when distributed)
sync_bn = 'torch'
