"""Top-k accuracy of every probe of a :class:`lgp.models.heads.MultiLinearProbeHead`, and the best probe's.

Symbols: N evaluated images, K probes, C classes.
"""

from collections.abc import Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS


@METRICS.register_module()
class MultiHeadAccuracy(BaseMetric):
    """Accuracy of K probes from the data samples' ``probe_scores`` (K, C); reports the best probe by top-1.

    Metrics (prefix ``multi_head``): ``top1`` / ``top5`` of the best probe (the first on ties), ``best_probe`` (its
    index), ``best_lr`` / ``best_wd`` (when ``lrs`` / ``weight_decays`` are given), and ``probe_{k}/top1`` for every
    probe. Selecting the best probe on the set it is reported on is what the original release does.

    Args:
        topk: the k reported; must contain 1 (the selection criterion).
        lrs: the probes' learning rates (the head's ``lrs``), to report the best one's.
        weight_decays: the probes' weight decays.
        score_key: the data-sample field holding the (K, C) scores.
        collect_device: ``cpu`` or ``gpu``, where results are gathered across processes.
        prefix: the metrics' prefix (default ``multi_head``).
    """

    default_prefix = 'multi_head'

    def __init__(
        self,
        topk: Sequence[int] = (1, 5),
        lrs: Sequence[float] | None = None,
        weight_decays: Sequence[float] | None = None,
        score_key: str = 'probe_scores',
        collect_device: str = 'cpu',
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(int(k) for k in topk)
        if 1 not in self.topk or min(self.topk) < 1:
            raise ValueError(f'topk must hold 1 (the best probe is chosen by top-1) and k >= 1, got {topk}.')
        if lrs is not None and weight_decays is not None and len(lrs) != len(weight_decays):
            raise ValueError(f'lrs and weight_decays differ in length: {len(lrs)} and {len(weight_decays)}.')
        self.lrs = None if lrs is None else [float(v) for v in lrs]
        self.weight_decays = None if weight_decays is None else [float(v) for v in weight_decays]
        self.score_key = score_key

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep, per image, whether each probe has the label in its top k: a (K, len(topk)) bool tensor."""
        for sample in data_samples:
            if self.score_key not in sample:
                raise KeyError(
                    f'The data samples have no {self.score_key!r}: MultiHeadAccuracy needs a head that sets it '
                    '(MultiLinearProbeHead).'
                )
            scores = sample[self.score_key]  # (K, C)
            label = sample['gt_label'].to(scores.device).view(1, 1)
            maxk = min(max(self.topk), scores.shape[-1])
            hits = scores.topk(maxk, dim=-1).indices == label  # (K, maxk)
            self.results.append(torch.stack([hits[:, : min(k, maxk)].any(dim=-1) for k in self.topk], dim=1).cpu())

    def compute_metrics(self, results: list[torch.Tensor]) -> dict[str, float]:
        """Accuracies (percent) of every probe over the N images, and the best probe's."""
        acc = torch.stack(results).float().mean(dim=0) * 100  # (K, len(topk))
        num_probes = acc.shape[0]
        for name, values in (('lrs', self.lrs), ('weight_decays', self.weight_decays)):
            if values is not None and len(values) != num_probes:
                raise ValueError(f'{name} has {len(values)} values but the head has {num_probes} probes.')
        top1 = acc[:, self.topk.index(1)]
        best = int(torch.nonzero(top1 == top1.max())[0])
        metrics = {f'top{k}': acc[best, i].item() for i, k in enumerate(self.topk)}
        metrics['best_probe'] = best
        if self.lrs is not None:
            metrics['best_lr'] = self.lrs[best]
        if self.weight_decays is not None:
            metrics['best_wd'] = self.weight_decays[best]
        metrics.update({f'probe_{k}/top1': top1[k].item() for k in range(num_probes)})
        return metrics


__all__ = ['MultiHeadAccuracy']
