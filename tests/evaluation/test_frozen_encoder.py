"""The frozen-encoder evaluation shared by tools/fewshot_eval.py, the demo and the study
(lgp.evaluation.frozen_encoder): one loader per split file beside the test set, and a few-shot fit per split."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from lgp.evaluation.frozen_encoder import VAL, fewshot_top1, split_dataloader_cfgs

CONFIG = 'configs/benchmarks/linear_lgp-vit-nano_digits.py'


def test_each_split_file_gets_the_test_loader_unshuffled():
    cfg = Config.fromfile(CONFIG)
    loaders = split_dataloader_cfgs(cfg, {'1%': Path('/data/meta/train_1percent.txt'), 'all': Path('/data/a.txt')})
    assert list(loaders) == [VAL, '1%', 'all']
    assert loaders[VAL] == cfg.test_dataloader
    for name, path in (('1%', '/data/meta/train_1percent.txt'), ('all', '/data/a.txt')):
        dataset = loaders[name]['dataset']
        assert dataset['ann_file'] == path and dataset['data_prefix'] == ''
        assert dataset['pipeline'] == cfg.test_dataloader.dataset.pipeline  # the test transform
        assert loaders[name]['sampler']['shuffle'] is False
    with pytest.raises(ValueError, match="'val' names the test set"):
        split_dataloader_cfgs(cfg, {VAL: Path('x.txt')})


def test_fewshot_top1_fits_each_split_and_scores_it_on_val():
    torch.manual_seed(0)
    means = torch.randn(3, 16) * 4
    val_y = torch.arange(3).repeat(20)
    val_x = means[val_y] + torch.randn(60, 16) * 0.1
    good_y = torch.arange(3).repeat(5)
    features = {
        VAL: (val_x, val_y),
        'clean': (means[good_y] + torch.randn(15, 16) * 0.1, good_y),
        'swapped': (means[good_y] + torch.randn(15, 16) * 0.1, (good_y + 1) % 3),  # every label wrong
    }
    results = fewshot_top1(features, num_classes=3)
    assert list(results) == ['clean', 'swapped']
    assert results['clean']['best']['top1'] == pytest.approx(100.0)
    assert results['swapped']['best']['top1'] == pytest.approx(0.0)
