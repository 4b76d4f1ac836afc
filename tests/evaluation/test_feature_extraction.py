"""Feature extraction (lgp.evaluation.feature_extraction): features equal to a known encoder's output, through the
whole few-shot pipeline to a known separation, and the feature cache, reused and invalidated."""

import os
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.structures import DataSample

from lgp.evaluation import (
    evaluate,
    extract_features,
    feature_cache_key,
    fit_logistic_regression,
    l2_from_lambda0,
    prepare_features,
)


class ToyData(torch.utils.data.Dataset):
    """Synthetic 'images' (1, 4, 5) whose 20 pixels are the features, with mmengine-style samples."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i].view(1, 4, 5), data_samples=DataSample().set_gt_label(int(self.y[i])))


class CountingFlatten(nn.Module):
    """A 'backbone' returning its flattened input as (B, 20) features, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        self.calls += 1
        return (x.flatten(1) * self.scale,)


def toy_loader(x: torch.Tensor, y: torch.Tensor) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(ToyData(x, y), batch_size=16, collate_fn=_collate)


def _collate(batch: list[dict]) -> dict:
    return dict(inputs=[b['inputs'] for b in batch], data_samples=[b['data_samples'] for b in batch])


def test_features_and_logistic_regression_recover_a_known_separation(gaussian_classes) -> None:
    x_train, y_train, means = gaussian_classes(60, scale=8.0, seed=0)
    x_val, y_val, _ = gaussian_classes(100, scale=8.0, seed=1)
    backbone, preprocessor = CountingFlatten(), ClsDataPreprocessor()
    f_train, l_train = extract_features(backbone, toy_loader(x_train, y_train), data_preprocessor=preprocessor)
    f_val, l_val = extract_features(backbone, toy_loader(x_val, y_val), data_preprocessor=preprocessor)
    assert f_train.dtype == torch.float32 and f_train.shape == (180, 20)
    torch.testing.assert_close(f_train, x_train)
    assert torch.equal(l_train, y_train) and torch.equal(l_val, y_val)
    train, val = prepare_features(f_train, f_val, centering='train_mean')
    fit = fit_logistic_regression(train, l_train, l2=l2_from_lambda0(2.5e-4, len(train)))
    assert fit.converged
    assert evaluate(fit, val, l_val) == {'top1': 100.0, 'top5': 100.0}
    # W's rows point along the generating means: class c's largest weight is on dimension 2c, and each (prepared)
    # mean is classified as its own class
    assert fit.weight.argmax(dim=1).tolist() == [0, 2, 4]
    prepared_means = torch.nn.functional.normalize(means - f_train.mean(0), dim=1)
    assert fit.logits(prepared_means.double()).argmax(dim=1).tolist() == [0, 1, 2]


def test_feature_cache_is_reused_and_invalidated(tmp_path: Path, gaussian_classes) -> None:
    x, y, _ = gaussian_classes(10)
    checkpoint, split = tmp_path / 'encoder.pth', tmp_path / 'split.txt'
    torch.save({'state_dict': {}}, checkpoint)
    split.write_text('train/a/1.png 0\n')
    transform = [dict(type='Resize', scale=32)]
    backbone, preprocessor, cache = CountingFlatten(), ClsDataPreprocessor(), tmp_path / 'cache' / 'train.pt'

    def run(key: str) -> tuple[torch.Tensor, torch.Tensor]:
        return extract_features(backbone, toy_loader(x, y), cache, key, data_preprocessor=preprocessor)

    key = feature_cache_key(checkpoint, split, transform)
    first = run(key)
    calls = backbone.calls
    assert calls > 0 and cache.is_file()
    assert torch.load(cache, weights_only=True)['key'] == key
    second = run(feature_cache_key(checkpoint, split, transform))
    assert backbone.calls == calls  # served from the cache
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])

    mtime = checkpoint.stat().st_mtime_ns
    os.utime(checkpoint, ns=(mtime + 10**9, mtime + 10**9))  # the checkpoint changed
    new_key = feature_cache_key(checkpoint, split, transform)
    assert new_key != key
    run(new_key)
    assert backbone.calls > calls  # recomputed, and the cache rewritten for the new key
    assert torch.load(cache, weights_only=True)['key'] == new_key
    assert feature_cache_key(checkpoint, split, [dict(type='Resize', scale=64)]) != new_key
    split.write_text('train/a/2.png 0\n')
    assert feature_cache_key(checkpoint, split, transform) != new_key
    with pytest.raises(ValueError, match='cache_key'):
        extract_features(backbone, toy_loader(x, y), cache, None, data_preprocessor=preprocessor)
