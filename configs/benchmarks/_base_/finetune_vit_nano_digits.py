# Full fine-tuning at CPU scale (finetune_lgp-vit-nano_digits.py, finetune_cmae-vit-nano_digits.py): the nano LGPViT
# (6 blocks, 32 px) fine-tuned on the digits with the ViT-B configs' model, optimiser and schedule shape (AdamW, layer
# decay over 6 blocks, label smoothing 0.1, warm-up then cosine), sized for 1.4k centred 32-px digits: no augmentation
# (datasets/digits_finetune.py says why), no Mixup / CutMix, no drop path, and LP-FT (the head starts as a logistic
# regression on the frozen features, LinearProbeInitHook); lr 3e-4 at batch 64, 15 epochs, 2 of warm-up; float32
# (tools/train.py --amp adds bf16 autocast). One recipe for every pre-trained encoder; docs/recipes.md has how it was
# chosen and what it reached.
from mmengine.config import read_base
from mmengine.optim import OptimWrapper

from lgp.engine import LinearProbeInitHook

with read_base():
    from ..._base_.cpu_runtime_last import *
    from ..._base_.models.lgp_vit_b import nano
    from .datasets.digits_finetune import *
    from .models.lgp_vit_b_finetune import *
    from .schedules.finetune_adamw_coslr_100e import *

pretrained = 'work_dirs/grafted_vit-nano_digits/epoch_4.pth'
model.backbone.update(nano, drop_path_rate=0.0)
model.backbone.init_cfg.checkpoint = pretrained
model.head.update(num_classes=num_classes, in_channels=48)
model.pop('train_cfg')  # no Mixup / CutMix
optim_wrapper.type = OptimWrapper
optim_wrapper.pop('dtype')
optim_wrapper.optimizer.lr = 3e-4 * auto_scale_lr.base_batch_size / 64  # 3e-4 at batch 64 after auto_scale_lr
param_scheduler[0].end = param_scheduler[1].begin = 2
train_cfg.update(max_epochs=15, val_interval=15)
custom_hooks = [dict(type=LinearProbeInitHook, l2=1e-3)]
del nano
