# CPU twin of finetune_lgp-vit-b_8xb128-100e_in1k.py (_base_/finetune_vit_nano_digits.py says how it is sized).
#   python tools/train.py configs/benchmarks/finetune_lgp-vit-nano_digits.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/grafted_vit-nano_digits/epoch_4.pth
from mmengine.config import read_base

with read_base():
    from ._base_.finetune_vit_nano_digits import *
