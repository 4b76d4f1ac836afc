# MAE's optimisation (He et al., 2022; the official code): AdamW, lr 1.5e-4 x batch / 256 (2.4e-3 at the recipe's
# 4096, rescaled to the actual total batch by auto_scale_lr), betas (0.9, 0.95), weight decay 0.05 except on 1-D
# tensors (norms, biases; the official code decays cls_token and mask_token); bf16 autocast. ``fused``: PyTorch's
# one-kernel AdamW, the same update as the default implementation, several times faster (benchmarks/README.md).
from mmengine.optim import AmpOptimWrapper
from torch.optim import AdamW

from lgp.engine import GraftedOptimWrapperConstructor

optim_wrapper = dict(
    type=AmpOptimWrapper,
    dtype='bfloat16',
    optimizer=dict(type=AdamW, lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    constructor=GraftedOptimWrapperConstructor,
    paramwise_cfg=dict(weight_decay_rule='skip_1d'),
)
auto_scale_lr = dict(base_batch_size=4096, enable=True)
