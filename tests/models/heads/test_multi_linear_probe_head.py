"""The linear-probe sweep head (lgp.models.heads.MultiLinearProbeHead): K probes on the raw features by default (the
original's sweep has no BatchNorm), or behind one shared parameter-free BatchNorm; the loss is the sum of the K
cross-entropies; every probe's scores reach the data sample."""

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from lgp.models.heads import MultiLinearProbeHead


def test_multi_linear_probe_head_sums_losses_and_predicts_every_probe() -> None:
    head = MultiLinearProbeHead(num_classes=3, in_channels=8, lrs=[0.1, 1.0], weight_decays=[0.0, 1e-4])
    head.init_weights()
    feats = (torch.randn(6, 8),)
    samples = [DataSample().set_gt_label(i % 3) for i in range(6)]
    logits = head(feats)
    assert logits.shape == (2, 6, 3)
    # no BatchNorm by default: each probe is a plain linear map of the features, and the head holds no buffers
    for k, probe in enumerate(head.probes):
        torch.testing.assert_close(logits[k], feats[0] @ probe.weight.T + probe.bias)
    assert not list(head.buffers())
    target = torch.arange(6) % 3
    expected = sum(F.cross_entropy(z, target) for z in logits)
    torch.testing.assert_close(head.loss(feats, samples)['loss'], expected)
    head.eval()
    predicted = head.predict(feats, samples)
    assert predicted[0].probe_scores.shape == (2, 3)
    torch.testing.assert_close(predicted[0].probe_scores, F.softmax(logits[:, 0], dim=-1))
    torch.testing.assert_close(predicted[0].pred_score, predicted[0].probe_scores[0])


def test_batch_norm_standardises_the_features_every_probe_sees() -> None:
    """The original's ``--add_batch_norm``: ``BatchNorm1d(D, affine=False, eps=1e-6)`` shared by the probes."""
    head = MultiLinearProbeHead(num_classes=3, in_channels=8, lrs=[0.1, 1.0], weight_decays=[0.0, 0.0], batch_norm=True)
    head.init_weights()
    x = 3 * torch.randn(16, 8) + 2
    standardised = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-6)
    head.train()
    logits = head((x,))
    for k, probe in enumerate(head.probes):
        torch.testing.assert_close(logits[k], standardised @ probe.weight.T + probe.bias)
    assert not list(head.bn.parameters())  # nothing for the optimiser: the probes are the only trained tensors
    torch.testing.assert_close(head.bn.running_mean, 0.1 * x.mean(0))


def test_probe_lists_must_agree() -> None:
    with pytest.raises(ValueError, match='same length'):
        MultiLinearProbeHead(num_classes=3, in_channels=8, lrs=[0.1, 1.0], weight_decays=[0.0])
    with pytest.raises(ValueError, match='predict_probe'):
        MultiLinearProbeHead(num_classes=3, in_channels=8, lrs=[0.1], weight_decays=[0.0], predict_probe=1)
