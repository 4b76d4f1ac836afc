# MoCo v3's optimisation (Chen et al., 2021): AdamW, lr 1.5e-4 x batch / 256 (2.4e-3 at the recipe's 4096, rescaled
# to the actual total batch by auto_scale_lr), betas (0.9, 0.999), weight decay 0.1 except on 1-D parameters and the
# tokens; bf16 autocast, no gradient clipping. The batch is never emulated by gradient accumulation: the contrastive
# negatives and the BN statistics come from the real batch. ``fused``: PyTorch's one-kernel AdamW (same update).
from mmengine.optim import AmpOptimWrapper
from torch.optim import AdamW

from lgp.engine import GraftedOptimWrapperConstructor

optim_wrapper = dict(
    type=AmpOptimWrapper,
    dtype='bfloat16',
    optimizer=dict(type=AdamW, lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.999), weight_decay=0.1, fused=True),
    constructor=GraftedOptimWrapperConstructor,
    paramwise_cfg=dict(),
)
auto_scale_lr = dict(base_batch_size=4096, enable=True)
# the heads' BatchNorm is synchronised across GPUs (converted by mmengine when training is distributed)
sync_bn = 'torch'
