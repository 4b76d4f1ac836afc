"""K linear probes trained at once on the same frozen features, each with its own lr and weight decay.

The original Layer Grafted linear evaluation (``main_lincls_sweep.py``) trains 70 probes in one pass over the data,
lr = b x 10^s x batch / 256 for b in (1, 3, 5, 7, 9), s in -5..1, times weight decay in (0, 1e-6), and reports the
best on the validation set. Here the probes are ``head.probes.{k}`` (``nn.Linear(D, C)`` each), optionally behind one
shared parameter-free BatchNorm (the original's ``--add_batch_norm``, off by default there): that BatchNorm has no
parameters and every probe sees the same input, so sharing it gives exactly the outputs and running statistics of K
separate ones, at 1/K of the cost.

Per-probe optimisation goes through :class:`lgp.engine.GraftedOptimWrapperConstructor`'s ``custom_keys``, which
multiply the optimiser's lr eta and weight decay w by the longest key found in a parameter's name
(``'head.probes.3.'`` is not a substring of ``'head.probes.31.weight'``). With ``probe_lrs`` / ``probe_wds`` the K
values and ``optimizer=dict(type=SGD, lr=eta, weight_decay=w)``, the config pattern is::

    custom_keys={
        f'head.probes.{k}.': dict(lr_mult=probe_lrs[k] / eta, decay_mult=probe_wds[k] / w)
        for k in range(len(probe_lrs))
    }

(w > 0 is a reference value; ``weight_decay_rule`` says whether the biases are decayed too, as the original's
``SGD(classifier.parameters(), weight_decay=wd)`` does). ``auto_scale_lr`` rescales eta, so every
probe's lr keeps its ratio to it. The loss is the sum of the K cross-entropies: each probe's gradient is that of its
own loss. At test time every probe's scores go to the data sample as ``probe_scores`` (K, C) for
:class:`lgp.evaluation.MultiHeadAccuracy`; ``pred_score`` is probe ``predict_probe``'s.

Symbols: B batch, D feature dims, C classes, K probes.
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .linear_probe_head import LINEAR_INIT


@MODELS.register_module()
class MultiLinearProbeHead(ClsHead):
    """K probes ``Linear(D, C)`` on the last backbone output, or on its ``BatchNorm1d(D, affine=False)``.

    Args:
        num_classes: C.
        in_channels: D.
        lrs: the K probes' learning rates (as configured, before ``auto_scale_lr``); recorded for reports.
        weight_decays: the K probes' weight decays, same length.
        predict_probe: the probe whose softmax becomes ``pred_score`` (set it to the sweep's best to deploy one).
        batch_norm: standardise the features with a parameter-free BatchNorm first (the original's
            ``--add_batch_norm``).
        bn_eps: the BatchNorm's epsilon (1e-6 as the original).
        init_cfg: init of every probe (N(0, 0.01^2) weights, zero biases, as the original).
        **kwargs: ``ClsHead``'s ``loss`` (applied to each probe) and ``topk``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        lrs: Sequence[float],
        weight_decays: Sequence[float],
        predict_probe: int = 0,
        batch_norm: bool = False,
        bn_eps: float = 1e-6,
        init_cfg: dict | None = LINEAR_INIT,
        **kwargs,
    ) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        if len(lrs) != len(weight_decays) or not lrs:
            raise ValueError(
                f'lrs and weight_decays give each probe its values: they need the same length >= 1, got '
                f'{len(lrs)} and {len(weight_decays)}.'
            )
        if not 0 <= predict_probe < len(lrs):
            raise ValueError(f'predict_probe must be in [0, {len(lrs)}), got {predict_probe}.')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.lrs, self.weight_decays = [float(v) for v in lrs], [float(v) for v in weight_decays]
        self.predict_probe = predict_probe
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=bn_eps) if batch_norm else nn.Identity()
        self.probes = nn.ModuleList(nn.Linear(in_channels, num_classes) for _ in self.lrs)

    @property
    def num_probes(self) -> int:
        return len(self.probes)

    def pre_logits(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The features (B, D), standardised with ``batch_norm``, shared by every probe."""
        return self.bn(feats[-1])

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Every probe's class scores, (K, B, C)."""
        x = self.pre_logits(feats)
        return torch.stack([probe(x) for probe in self.probes])

    def loss(self, feats: tuple[torch.Tensor, ...], data_samples: list[DataSample], **kwargs) -> dict:
        """``dict(loss=sum_k L(probe_k))``, L the configured loss (cross-entropy) averaged over the batch."""
        logits = self(feats)
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        losses = [self.loss_module(z, target, avg_factor=z.size(0), **kwargs) for z in logits]
        return dict(loss=torch.stack(losses).sum())

    def predict(
        self, feats: tuple[torch.Tensor, ...], data_samples: list[DataSample | None] | None = None
    ) -> list[DataSample]:
        """Set ``probe_scores`` (K, C), and ``pred_score`` / ``pred_label`` from probe ``predict_probe``."""
        scores = F.softmax(self(feats), dim=-1).transpose(0, 1).detach()  # (B, K, C)
        if data_samples is None:
            data_samples = [None] * scores.size(0)
        out = []
        for data_sample, probe_scores in zip(data_samples, scores, strict=True):
            data_sample = DataSample() if data_sample is None else data_sample
            score = probe_scores[self.predict_probe]
            data_sample.set_pred_score(score).set_pred_label(score.argmax(dim=0, keepdim=True))
            data_sample.set_field(probe_scores, 'probe_scores', dtype=torch.Tensor)
            out.append(data_sample)
        return out


__all__ = ['MultiLinearProbeHead']
