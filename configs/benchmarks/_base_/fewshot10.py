# The 10 % few-shot fine-tuning of the original release (main_finetune_mae.py --tuneFromFirstFC), wired into the
# ViT-B/16 fine-tuning model: trained on the 10 % list, the head is the pre-training projector's first layer
# (768 -> 4096, no bias; lgp.models.heads.ProjectorClsHead, loaded strictly from the same checkpoint) then a new
# 4096 -> 1000 layer; layer decay 0.75, lr 3e-5 x batch / 256, 200 epochs; everything else as the full fine-tune.
# `with_norm_act=True` keeps the projector's BN and ReLU between the two layers (a departure, docs/recipes.md).
# The 10 % list: meta/train_10percent.txt in the data root, one `train/<wnid>/<file>.JPEG <label>` a line (the
# original's format), e.g. python tools/dataset_converters/make_split.py data/imagenet
# data/imagenet/meta/train_10percent.txt --percent 10
from mmengine.config import read_base

from lgp.models.heads import ProjectorClsHead

with read_base():
    from .models.lgp_vit_b_finetune import *
    from .schedules.finetune_adamw_coslr_100e import *

model.head = dict(
    type=ProjectorClsHead,
    num_classes=1000,
    in_channels=768,
    hid_channels=4096,
    with_norm_act=False,
    loss=model.head.loss,
    init_cfg=dict(type='Pretrained', checkpoint=pretrained),
)
base_lr = 3e-5 * 256 / 256
optim_wrapper.optimizer.lr = base_lr
optim_wrapper.paramwise_cfg.layer_decay = 0.75
auto_scale_lr = dict(base_batch_size=256, enable=True)
param_scheduler[1].eta_min_ratio = min_lr / base_lr
train_cfg.max_epochs = 200
