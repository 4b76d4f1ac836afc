"""The linear-probe head: a parameter-free BatchNorm, then a linear layer, on frozen features.

MAE and the original Layer Grafted release (``LinearClassifier(add_batch_norm=True)``) put a BatchNorm without affine
parameters (eps 1e-6) in front of the linear layer: it standardises the frozen features per dimension, which makes
one learning rate fit encoders whose features have very different scales. The linear layer starts at N(0, 0.01^2)
weights and zero biases.

Symbols: B batch, D feature dims, C classes.
"""

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS

LINEAR_INIT = dict(type='Normal', layer='Linear', std=0.01, bias=0.0)


@MODELS.register_module()
class LinearProbeHead(ClsHead):
    """``BatchNorm1d(D, affine=False)`` then ``Linear(D, C)`` on the last backbone output (B, D).

    Args:
        num_classes: C.
        in_channels: D (768 for ViT-B).
        bn_eps: the BatchNorm's epsilon (1e-6 as MAE and the original release).
        init_cfg: mmengine init of the linear layer.
        **kwargs: ``ClsHead``'s ``loss``, ``topk``, ``cal_acc``.
    """

    def __init__(
        self, num_classes: int, in_channels: int, bn_eps: float = 1e-6, init_cfg: dict | None = LINEAR_INIT, **kwargs
    ) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        if num_classes < 1 or in_channels < 1:
            raise ValueError(f'num_classes and in_channels must be >= 1, got {num_classes} and {in_channels}.')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=bn_eps)
        self.fc = nn.Linear(in_channels, num_classes)

    def pre_logits(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The standardised features (B, D)."""
        return self.bn(feats[-1])

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Class scores (B, C)."""
        return self.fc(self.pre_logits(feats))


__all__ = ['LINEAR_INIT', 'LinearProbeHead']
