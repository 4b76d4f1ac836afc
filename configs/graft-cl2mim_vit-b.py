# The CL -> MIM grafting baseline (paper, Table 1): MAE started from MoCo v3 weights with the embeddings and blocks 0-7
# frozen (requires_grad=False), 100 epochs (10 warm-up), MAE's optimiser. Batch 8 GPUs x 512 = 4096.
#   tools/dist_train.sh configs/graft-cl2mim_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mae import *
    from ._base_.default_runtime import *
    from ._base_.models.mae_vit_b import *
    from ._base_.schedules.cosine_100e import *
    from ._base_.schedules.mae_adamw import *

# step 1: the official MoCo v3 release (vit-b-300ep.pth.tar) or the last checkpoint of configs/mocov3_vit-b.py
model.backbone.update(frozen_stages=8, init_cfg=dict(type='Pretrained', checkpoint='checkpoints/vit-b-300ep.pth.tar'))
