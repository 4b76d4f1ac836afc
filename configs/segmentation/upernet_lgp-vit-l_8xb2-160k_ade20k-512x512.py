# ADE20K transfer of an lgp ViT-L/16: upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py with 1024-dim features of blocks
# 7, 11, 15, 23, activation checkpointing (batch 2 per GPU at 512 px), drop path 0.2 and layer decay 0.75.
# Layer decay: mmseg's MAE ViT-B reference reuses MAE's ViT-B fine-tuning value (0.65), so ViT-L takes MAE's ViT-L
# fine-tuning value (0.75, mmpretrain's mae/benchmarks/vit-large-p16_8xb128-coslr-50e_in1k.py). The 0.95 of mmseg's
# BEiT-L config is for BEiT weights already fine-tuned on ImageNet-22k with labels, which need little decay (mmseg's
# BEiT-B uses 0.9 where MAE-B uses 0.65). Drop path 0.2 as MAE's ViT-L fine-tuning and mmseg's BEiT-L.
#   tools/dist_train.sh configs/segmentation/upernet_lgp-vit-l_8xb2-160k_ade20k-512x512.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.ade20k_512x512 import *
    from ._base_.default_runtime import *
    from ._base_.models.upernet_lgp_vit_b import *
    from ._base_.schedules.adamw_layer_decay_160k import *

# an lgp ViT-L pre-training checkpoint (configs/grafted_vit-l.py), loaded strictly (online encoder)
pretrained = 'checkpoints/lgp_vit-l.pth'

model.backbone.update(
    arch='l',
    out_indices=[7, 11, 15, 23],
    drop_path_rate=0.2,
    with_cp=True,
    init_cfg=dict(type='Pretrained', checkpoint=pretrained, source='auto', encoder='online'),
)
model.neck.update(in_channels=[1024, 1024, 1024, 1024], out_channels=1024)
model.decode_head.update(in_channels=[1024, 1024, 1024, 1024], channels=1024)
model.auxiliary_head.in_channels = 1024
optim_wrapper.paramwise_cfg.layer_decay = 0.75
