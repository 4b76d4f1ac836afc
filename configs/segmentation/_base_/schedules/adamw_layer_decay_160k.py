# mmseg's MAE ADE20K schedule: AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.05 (none on 1-D parameters, i.e.
# norms and biases, nor on pos_embed / cls_token), layer decay 0.65 (block i at 0.65 ** (12 - i), the embeddings at
# 0.65 ** 13, the final norm and the neck and heads at 1) by GraftedOptimWrapperConstructor; bf16 autocast; linear
# warm-up from 1e-6 x over 1500 iterations, then poly (power 1) to 0 at the end of training (mmengine's default end:
# train_cfg.max_iters, the run's one length setting), per iteration; validation and a checkpoint every 16k
# iterations. The batch is 16 (8 GPUs x 2). ``fused``: PyTorch's one-kernel AdamW (same update).
from mmengine.optim import AmpOptimWrapper, LinearLR, PolyLR
from mmengine.runner import IterBasedTrainLoop, TestLoop, ValLoop
from torch.optim import AdamW

from lgp.engine import GraftedOptimWrapperConstructor

optim_wrapper = dict(
    type=AmpOptimWrapper,
    dtype='bfloat16',
    optimizer=dict(type=AdamW, lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    constructor=GraftedOptimWrapperConstructor,
    paramwise_cfg=dict(layer_decay=0.65, weight_decay_rule='skip_1d_and_tokens'),
)
# eta_min stays 0: an absolute floor would bend the layer-decay ratios at the end of the schedule
param_scheduler = [
    dict(type=LinearLR, start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type=PolyLR, eta_min=0.0, power=1.0, by_epoch=False, begin=1500),
]
train_cfg = dict(type=IterBasedTrainLoop, max_iters=160000, val_interval=16000)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
# --auto-scale-lr rescales the lr to another total batch
auto_scale_lr = dict(base_batch_size=16, enable=False)
