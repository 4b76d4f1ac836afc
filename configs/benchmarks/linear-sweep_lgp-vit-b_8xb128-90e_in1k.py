# Linear-probe sweep of an LGP ViT-B/16 on ImageNet-1k, as the original release's main_lincls_sweep.py (the linear
# column of the paper's Table 1): 70 probes trained in one pass over the frozen features (_base_/linear_sweep.py),
# 90 epochs, the best probe on the val set reported.
#   tools/dist_train.sh configs/benchmarks/linear-sweep_lgp-vit-b_8xb128-90e_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-b/epoch_300.pth
from mmengine.config import read_base

with read_base():
    from .._base_.default_runtime import *
    from ._base_.datasets.imagenet_linear import *
    from ._base_.linear_sweep import *

default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='multi_head/top1', rule='greater')
