"""10 % few-shot head: the pre-trained projector's first layer (D -> 4096, BN, ReLU), then a new 4096 -> C layer.

The projector's first layer lives in the pre-training checkpoint (:data:`lgp.models.checkpoint.PROJECTOR_LAYOUTS`) as

- lgp / mmpretrain (``NonLinearNeck``): ``neck.fc0.weight`` and ``neck.bn0.{weight,bias,running_mean,running_var,
  num_batches_tracked}`` (momentum encoder: ``momentum_encoder.module.1.``);
- official MoCo v3 and the original Layer Grafted release (``{'state_dict': ...}``): ``module.base_encoder.head.0``
  (Linear, no bias) and ``module.base_encoder.head.1`` (BatchNorm1d) (momentum: ``module.momentum_encoder.head.``).

The original release (``main_finetune_mae.py --tuneFromFirstFC``) keeps only the projector's first Linear:
its head is ``Sequential(Linear(D, 4096, bias=False), Linear(4096, C))``, no BN or ReLU between, only
``head.0.weight`` loaded, the new layer trunc-normal with std 2e-5. ``with_norm_act=False`` reproduces that exactly;
the default (``True``) keeps the projector's BN and ReLU too, so the head computes what the projector's first stage
computed in pre-training.

Symbols: B batch, D feature dims, H the projector's hidden dims (4096), C classes.
"""

from pathlib import Path

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.logging import MMLogger
from mmengine.model import initialize
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS

from ..checkpoint import (
    PROJECTOR_LAYOUTS,
    CheckpointMismatchError,
    check_state_dict,
    read_projector_first_layer,
    safe_load,
    select_prefix,
    split_init_cfg,
    unwrap,
)


@MODELS.register_module()
class ProjectorClsHead(ClsHead):
    """``fc(ReLU(bn0(fc0(x))))`` (or ``fc(fc0(x))``): fc0 (D -> H) and bn0 from the pre-training projector, fc new.

    Args:
        num_classes: C.
        in_channels: D (768 for ViT-B).
        hid_channels: H, the projector's hidden width (4096).
        with_bias: whether fc0 has a bias (MoCo v3's projector has none).
        with_norm_act: keep the projector's BN (bn0) and ReLU after fc0; False: fc0 then fc, the original release.
        norm_cfg: bn0 (``BN1d``; ``sync_bn='torch'`` in a config synchronises it across GPUs).
        fc_std: std of the new layer's truncated-normal init (2e-5, as MAE's fine-tuning head); zero bias.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, source='auto', encoder='online', prefix=None)``, alone
            or in a list with other initialisers (:func:`lgp.models.checkpoint.split_init_cfg`), loads fc0 and bn0
            strictly from a pre-training checkpoint (:data:`PROJECTOR_LAYOUTS`): a missing, unexpected or mis-shaped
            key is a :class:`lgp.models.checkpoint.CheckpointMismatchError`. Without it fc0 / bn0 keep PyTorch's
            init (e.g. to build a model whose fine-tuned weights are loaded afterwards).
        **kwargs: ``ClsHead``'s ``loss``, ``topk``, ``cal_acc``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        hid_channels: int = 4096,
        with_bias: bool = False,
        with_norm_act: bool = True,
        norm_cfg: dict | None = None,
        fc_std: float = 2e-5,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.num_classes, self.in_channels, self.hid_channels = num_classes, in_channels, hid_channels
        self.fc_std = fc_std
        self.with_norm_act = with_norm_act
        self.fc0 = nn.Linear(in_channels, hid_channels, bias=with_bias)
        if with_norm_act:
            self.bn0 = build_norm_layer(norm_cfg or dict(type='BN1d'), hid_channels)[1]
            self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(hid_channels, num_classes)

    def pre_logits(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """ReLU(bn0(fc0(x))) (or fc0(x)), (B, H)."""
        x = self.fc0(feats[-1])
        return self.relu(self.bn0(x)) if self.with_norm_act else x

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Class scores (B, C)."""
        return self.fc(self.pre_logits(feats))

    def init_weights(self) -> None:
        """New fc: truncated normal (std ``fc_std``), zero bias; then the init_cfg's other initialisers, if any; then
        fc0 / bn0 from the checkpoint of its ``Pretrained`` entry, in any form mmengine accepts (a dict or a list)."""
        nn.init.trunc_normal_(self.fc.weight, std=self.fc_std)
        nn.init.zeros_(self.fc.bias)
        pretrained, others = split_init_cfg(self.init_cfg)
        if others:
            initialize(self, others)
        if pretrained is not None:
            self.load_projector(**pretrained)
        self._is_init = True

    def load_projector(
        self, checkpoint: str | Path | dict, source: str = 'auto', encoder: str = 'online', prefix: str | None = None
    ) -> None:
        """Copy the projector's first Linear + BN of ``checkpoint`` (a path or a loaded dict) into fc0 / bn0, strictly.

        ``prefix`` keeps only the checkpoint's keys under it, stripped, before the projector is looked for.

        Raises:
            CheckpointMismatchError: naming every missing, unexpected or mis-shaped key; nothing is loaded then.
        """
        name = str(checkpoint) if isinstance(checkpoint, (str, Path)) else 'given as a dict'
        loaded = safe_load(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
        state_dict, layout = read_projector_first_layer(select_prefix(unwrap(loaded), prefix)[0], source, encoder)
        if not self.with_norm_act:  # the projector's BN is not part of this head (the original release's choice)
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith('bn0.')}
        target = nn.ModuleDict({'fc0': self.fc0, **({'bn0': self.bn0} if self.with_norm_act else {})})
        where = f'{name} (projector layout {layout!r}, {encoder} encoder)'
        if not state_dict:
            where = (
                f'{name}: no projector found ({encoder} encoder; looked for neck.fc0 / neck.bn0 of lgp and mmpretrain, '
                'module.base_encoder.head.0 / .1 of MoCo v3 and the original release)'
            )
            raise CheckpointMismatchError(where, sorted(target.state_dict()), [], [])
        check_state_dict(target, state_dict, source=where)
        target.load_state_dict(state_dict, strict=True)
        MMLogger.get_current_instance().info(f'Loaded the projector first layer (fc0, bn0) from {where}.')


__all__ = ['PROJECTOR_LAYOUTS', 'ProjectorClsHead', 'read_projector_first_layer']
