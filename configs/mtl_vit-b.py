# The MTL combination baseline (paper, Table 1): MAE and MoCo v3 losses on one ViT-B/16 encoder at once,
# L = L_MIM + lambda * L_CL with lambda = 1, 300 epochs from scratch. Each image gives one MAE view (crop + flip) and
# two MoCo v3 views. MoCo v3's optimiser (AdamW wd 0.1 on every trained tensor, as the original release's pre-training
# code without layer-wise lrs); batch 8 GPUs x 256 = 2048 (three views of 512 do not fit in 80 GB), the lr scaled from
# 2.4e-3 at 4096 to 1.2e-3 by auto_scale_lr. The gradient conflict of the two losses is measured by
# tools/analysis_tools/gradient_conflict.py on its checkpoint, or logged while training by GradientConflictHook.
#   tools/dist_train.sh configs/mtl_vit-b.py 8
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.imagenet_mtl import *
    from ._base_.default_runtime import *
    from ._base_.models.mtl_vit_b import *
    from ._base_.schedules.cosine_300e import *
    from ._base_.schedules.mocov3_adamw import *

default_hooks.checkpoint.interval = 10
