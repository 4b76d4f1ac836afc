# ADE20K semantic segmentation transfer of an lgp ViT-B/16: UperNet + auxiliary FCN head at 512x512, 160k iterations
# of batch 16 (8 GPUs x 2), AdamW lr 1e-4 with layer decay 0.65, bf16, sliding-window test, mIoU over 150 classes.
# Recipe of mmseg's MAE ViT-B reference (48.1 mIoU single scale for MAE); see the _base_ files for the details.
#   tools/dist_train.sh configs/segmentation/upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py 8
#   tools/dist_test.sh configs/segmentation/upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py WORK_DIR/iter_160000.pth 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.ade20k_512x512 import *
    from ._base_.default_runtime import *
    from ._base_.models.upernet_lgp_vit_b import *
    from ._base_.schedules.adamw_layer_decay_160k import *

# an lgp pre-training checkpoint (e.g. the last one of configs/grafted_vit-b.py): its online encoder is loaded with
# strict key checking. An official MAE file, a MoCo v3 / original Layer Grafted release file or a backbone-only file
# (tools/model_converters/to_lgp_backbone.py) loads the same way.
pretrained = 'checkpoints/lgp_vit-b.pth'

model.backbone.init_cfg = dict(type='Pretrained', checkpoint=pretrained, source='auto', encoder='online')
