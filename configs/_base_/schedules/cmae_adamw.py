# CMAE's optimisation (Huang et al., 2022; the official code): MAE's (mae_adamw.py: AdamW betas (0.9, 0.95), weight
# decay 0.05, lr 1.5e-4 x batch / 256, bf16) with the official exemptions from weight decay, by name: LayerNorms
# ('ln'), biases, mask_token and cls_token (and pos_embed, which is a fixed sin-cos table there and here: not listed).
# The projector's and predictor's BatchNorm weights are decayed, as in the official code.
from mmengine.config import read_base

with read_base():
    from .mae_adamw import *

optim_wrapper.paramwise_cfg = dict(
    weight_decay_rule='all',
    custom_keys={key: dict(decay_mult=0.0) for key in ('ln', 'bias', 'mask_token', 'cls_token')},
)
# the heads' BatchNorm is synchronised across GPUs (converted by mmengine when training is distributed)
sync_bn = 'torch'
