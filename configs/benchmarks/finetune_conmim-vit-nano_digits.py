# CPU twin of finetune_conmim-vit-b_8xb128-100e_in1k.py: the one CPU fine-tuning recipe
# (_base_/finetune_vit_nano_digits.py) on the BEiT-style encoder, with mean pooling (final_norm=False, a new ln2) and
# layer decay 0.65.
#   python tools/train.py configs/benchmarks/finetune_conmim-vit-nano_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/conmim_vit-nano_digits/epoch_20.pth
from mmengine.config import read_base

with read_base():
    from .._base_.models.conmim_vit_b import beit_style
    from ._base_.finetune_vit_nano_digits import *

model.backbone.update(beit_style, out_type='avg_featmap', final_norm=False)
model.backbone.init_cfg.checkpoint = 'work_dirs/conmim_vit-nano_digits/epoch_20.pth'
optim_wrapper.paramwise_cfg.layer_decay = 0.65
del beit_style
