# Study row: the MTL combination (L_MIM + L_CL on one encoder; per image one MAE view and two MoCo v3 views) on the
# digits with the nano LGPViT; otherwise the study's MoCo v3 run (15 epochs, 2 of warm-up, MoCo v3's optimiser at lr
# 1e-3 for batch 64), as the paper trains both for 300 epochs.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.digits_mtl import train_pipeline as mtl_pipeline
    from .._base_.models.mtl_vit_nano import model as mtl_model
    from .mocov3_vit_nano_digits import *

model = mtl_model
train_dataloader.dataset.pipeline = mtl_pipeline
del mtl_model, mtl_pipeline
