# Full fine-tuning of a ConMIM ViT-B/16 on ImageNet-1k, ConMIM's command (BEiT's fine-tuning): the MAE recipe of
# finetune_lgp-vit-b_8xb128-100e_in1k.py (drop path 0.1, RandAugment, RandomErasing, Mixup / CutMix, label smoothing,
# cosine to 1e-6, 100 epochs) with lr 4e-3 at batch 1024, 20 warm-up epochs, layer decay 0.65 and mean pooling (the
# mean of the last block's patch tokens, normalised by a new LayerNorm, ln2; final_norm=False: the load leaves the
# pre-trained final norm out and logs it), on the BEiT-style encoder of the pre-training. Anchors: 83.5 top-1 after 300
# pre-training epochs, 83.7 after 800 (the paper).
#   tools/dist_train.sh configs/benchmarks/finetune_conmim-vit-b_8xb128-100e_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/conmim_vit-b/epoch_300.pth
from mmengine.config import read_base

with read_base():
    from .._base_.default_runtime import *
    from .._base_.models.conmim_vit_b import beit_style
    from ._base_.datasets.imagenet_finetune import *
    from ._base_.models.lgp_vit_b_finetune import *
    from ._base_.schedules.finetune_adamw_coslr_100e import *

model.backbone.update(beit_style, out_type='avg_featmap', final_norm=False)
model.backbone.init_cfg.checkpoint = 'work_dirs/conmim_vit-b/epoch_300.pth'
optim_wrapper.optimizer.lr = 4e-3
optim_wrapper.paramwise_cfg.layer_decay = 0.65
param_scheduler[0].end = param_scheduler[1].begin = 20
param_scheduler[1].eta_min_ratio = min_lr / optim_wrapper.optimizer.lr
default_hooks.checkpoint.update(interval=10, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater')
del beit_style
