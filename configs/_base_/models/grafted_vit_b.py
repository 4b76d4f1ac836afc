# Layer Grafted Pre-training, step 2, ViT-B/16: the whole graft in one place (lgp/models/algorithms/grafted.py).
#   * from step 1: the backbone, and through it the momentum encoder, start from the MAE encoder named by `step1`
#     (embeddings, every block and the final norm; lgp / mmpretrain files, the official MAE release and the MoCo v3 /
#     original Layer Grafted layouts are read; a list of parts assembles it from several checkpoints by block range);
#     projector and predictor are new;
#   * frozen: the patch embedding keeps its MAE weights (MoCo v3's stop-gradient); the position embedding is the
#     fixed sin-cos one; lower_lr_mult=0 would freeze the lower blocks too (graft-mim2cl-frozen_vit-b.py);
#   * lr: cls_token and blocks 0-7 at 0.1x, blocks 8-11, the final norm, projector and predictor at 1x (the original's
#     --lr_layer_wise 1.5e-5,1.5e-5,1.5e-4); the model hands these groups to GraftedOptimWrapperConstructor;
#   * the L1 pull toward the MAE weights is off at ViT-B (grafted_vit-l.py: 1e-5 over the embeddings and blocks 0-11);
#   * the rest is MoCo v3 (mocov3_vit_b.py); the optimiser is _base_/schedules/grafted_adamw.py.
from mmengine.config import read_base

from lgp.models import GraftedMoCoV3

with read_base():
    from .mocov3_vit_b import *

# --cfg-options model.step1.checkpoint=PATH: the official MAE release or the last checkpoint of configs/mae_vit-b.py
model.update(
    type=GraftedMoCoV3,
    step1=dict(checkpoint='checkpoints/mae_pretrain_vit_base.pth'),
    lower_blocks=8,
    lower_lr_mult=0.1,
    anchor_weight=0.0,
    anchor_blocks=0,
)
