"""The metric of the linear-probe sweep (lgp.evaluation.MultiHeadAccuracy): every probe's top-1, the best probe's
accuracy, lr and weight decay, on hand-made scores."""

import pytest
import torch

from lgp.evaluation import MultiHeadAccuracy


def test_multi_head_accuracy_reports_every_probe_and_the_best() -> None:
    metric = MultiHeadAccuracy(topk=(1, 2), lrs=[0.1, 1.0, 10.0], weight_decays=[0.0, 0.0, 1e-6])
    labels = [0, 1, 2, 1]
    # probe 0 always right; probe 1 right on samples 0-1; probe 2 right on 0-2 (top-2 always right)
    probe_preds = [[0, 1, 2, 1], [0, 1, 0, 0], [0, 1, 2, 0]]
    samples = []
    for i, label in enumerate(labels):
        scores = torch.full((3, 3), 0.1)
        for k in range(3):
            scores[k, probe_preds[k][i]] = 0.7
            scores[k, label] = max(scores[k, label].item(), 0.2)
        samples.append(dict(probe_scores=scores, gt_label=torch.tensor([label])))
    metric.process({}, samples)
    metrics = metric.compute_metrics(metric.results)
    assert metrics['top1'] == 100.0 and metrics['top2'] == 100.0
    assert (metrics['best_probe'], metrics['best_lr'], metrics['best_wd']) == (0, 0.1, 0.0)
    assert [metrics[f'probe_{k}/top1'] for k in range(3)] == [100.0, 50.0, 75.0]
    with pytest.raises(ValueError, match='hold 1'):
        MultiHeadAccuracy(topk=(5,))
