# Full fine-tuning (MAE's recipe, as the original release's main_finetune_mae.py): AdamW lr 5e-4 x batch / 256 (2e-3
# at batch 1024, rescaled to the actual total batch by auto_scale_lr), betas (0.9, 0.999), weight decay 0.05 except on
# 1-D tensors and pos_embed / cls_token (the model's no_weight_decay list); layer decay 0.6 (scale =
# 0.6 ** (L + 1 - layer_id)); the pre-training schedule's shape (configs/_base_/schedules/cosine_300e.py) with 5 warm-up
# epochs, then cosine to 1e-6 x the peak lr (eta_min_ratio: an absolute eta_min would bend the layer-decay ratios),
# per iteration; 100 epochs; bf16 autocast. ``fused``: PyTorch's one-kernel AdamW (same update).
from mmengine.config import read_base
from mmengine.runner import TestLoop, ValLoop

with read_base():
    from ...._base_.schedules.cosine_300e import *
    from ...._base_.schedules.mae_adamw import *

base_lr = 5e-4 * 1024 / 256
min_lr = 1e-6
optim_wrapper.optimizer.update(lr=base_lr, betas=(0.9, 0.999))
optim_wrapper.paramwise_cfg = dict(layer_decay=0.6, weight_decay_rule='skip_1d_and_tokens')
param_scheduler[0].end = param_scheduler[1].begin = 5
param_scheduler[1].pop('eta_min')
param_scheduler[1].eta_min_ratio = min_lr / base_lr
train_cfg.update(max_epochs=100, val_interval=10)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
auto_scale_lr = dict(base_batch_size=1024, enable=True)
