# ConMIM's optimisation (the official code, BEiT's): AdamW betas (0.9, 0.98), weight decay 0.05 except on 1-D tensors,
# biases and cls_token (the model's no_weight_decay list; the mask token and the relative position bias table are
# decayed), lr 5e-4 at batch 2048 (rescaled to the actual total batch by auto_scale_lr), bf16 autocast, no gradient
# clipping (ViT-B); warm-up from 1e-6 over 10 epochs, then cosine to an absolute 1e-5 (min_lr), per iteration.
from mmengine.optim import AmpOptimWrapper, CosineAnnealingLR, LinearLR
from mmengine.runner import EpochBasedTrainLoop
from torch.optim import AdamW

from lgp.engine import GraftedOptimWrapperConstructor

optim_wrapper = dict(
    type=AmpOptimWrapper,
    dtype='bfloat16',
    optimizer=dict(type=AdamW, lr=5e-4, betas=(0.9, 0.98), weight_decay=0.05, fused=True),
    constructor=GraftedOptimWrapperConstructor,
    paramwise_cfg=dict(weight_decay_rule='skip_1d', custom_keys={'cls_token': dict(decay_mult=0.0)}),
)
auto_scale_lr = dict(base_batch_size=2048, enable=True)
param_scheduler = [
    dict(type=LinearLR, start_factor=1e-6 / 5e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, eta_min=1e-5, by_epoch=True, begin=10, convert_to_iter_based=True),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=300)
