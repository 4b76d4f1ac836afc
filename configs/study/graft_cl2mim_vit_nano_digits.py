# Study row: CL -> MIM grafting, MAE continued from the study's MoCo v3 weights with the embeddings and blocks 0-3 of 6
# frozen (as 0-7 of 12), 5 epochs with 1 of warm-up (the paper's step 2: 100 epochs with 10, a third of MoCo v3's 300);
# otherwise the study's MAE run. The study sets the MoCo v3 checkpoint (model.backbone.init_cfg.checkpoint).
from mmengine.config import read_base

with read_base():
    from .mae_vit_nano_digits import *

train_cfg.max_epochs = 5
param_scheduler[0].end = param_scheduler[1].begin = 1
model.backbone.update(
    frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint='work_dirs/study/mocov3/epoch_15.pth')
)
