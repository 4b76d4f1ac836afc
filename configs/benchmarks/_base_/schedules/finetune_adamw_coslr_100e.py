# Full fine-tuning (MAE's recipe, the original release's main_finetune_mae.py): AdamW lr 5e-4 x batch / 256 (2e-3 at
# batch 1024, rescaled to the actual total batch by auto_scale_lr), betas (0.9, 0.999), weight decay 0.05 except on 1-D
# parameters and the tokens; layer decay 0.6 (scale = 0.6 ** (L + 1 - layer_id)); linear warm-up over 5 epochs, then
# cosine to 1e-6 at the peak lr (eta_min_ratio: an absolute eta_min would bend the layer-decay ratios), per iteration;
# 100 epochs; bf16 autocast. ``fused``: PyTorch's one-kernel AdamW (same update).
from mmengine.optim import AmpOptimWrapper, CosineAnnealingLR, LinearLR
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.optim import AdamW

from lgp.engine import GraftedOptimWrapperConstructor

base_lr = 5e-4 * 1024 / 256
min_lr = 1e-6
optim_wrapper = dict(
    type=AmpOptimWrapper,
    dtype='bfloat16',
    optimizer=dict(type=AdamW, lr=base_lr, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    constructor=GraftedOptimWrapperConstructor,
    paramwise_cfg=dict(layer_decay=0.6),
)
max_epochs = 100
warmup_epochs = 5
param_scheduler = [
    dict(type=LinearLR, start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type=CosineAnnealingLR,
        T_max=max_epochs - warmup_epochs,
        eta_min_ratio=min_lr / base_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
auto_scale_lr = dict(base_batch_size=1024, enable=True)
