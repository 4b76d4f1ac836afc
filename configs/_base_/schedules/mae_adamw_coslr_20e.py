# MAE's optimisation (He et al., 2022): AdamW, betas (0.9, 0.95), weight decay 0.05 except on norms, biases and
# tokens, lr = 1.5e-4 * total batch / 256; linear warm-up, then cosine decay to 0, both stepped every iteration.
# 20 epochs with 2 of warm-up: the length of the CPU quick start.
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop
from torch.optim import AdamW

optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=1.5e-4 * 64 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
        },
    ),
)

max_epochs = 20
warmup_epochs = 2
param_scheduler = [
    dict(type=LinearLR, start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type=CosineAnnealingLR,
        T_max=max_epochs - warmup_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]

train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs)

# The lr above is for a total batch of 64; tools/train.py --auto-scale-lr rescales it to the actual one.
auto_scale_lr = dict(base_batch_size=64, enable=False)
