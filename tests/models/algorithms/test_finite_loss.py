"""A NaN loss stops training before the optimiser step and keeps the last good checkpoint
(lgp.models.algorithms.finite_loss)."""

import hashlib
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS

from lgp.models.algorithms.finite_loss import NonFiniteLossError

REPO = Path(__file__).resolve().parents[3]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(digits_root, tmp_path, monkeypatch):
    cfg = Config.fromfile(REPO / 'configs/mae_vit-nano_digits.py')
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=32)
    cfg.train_dataloader.dataset.update(data_root=str(digits_root), indices=64)
    cfg.train_cfg.max_epochs = 3  # 2 epochs of warm-up, then the cosine
    runner = RUNNERS.build(cfg)  # as tools/train.py builds it
    reconstruction_loss = runner.model.head.loss_module.forward
    calls = []

    def loss_turning_nan(*args, **kwargs):
        calls.append(1)
        loss = reconstruction_loss(*args, **kwargs)
        return loss * float('nan') if len(calls) == 4 else loss

    monkeypatch.setattr(runner.model.head.loss_module, 'forward', loss_turning_nan)
    with pytest.raises(NonFiniteLossError, match=r'Non-finite loss at iteration 4: \{\'loss\': nan\}'):
        runner.train()
    good = tmp_path / 'epoch_1.pth'
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    assert not (tmp_path / 'epoch_2.pth').exists()
    checkpoint = torch.load(good, weights_only=True)
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values() if v.is_floating_point())
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())  # stopped before the optimiser step
    assert hashlib.sha256(good.read_bytes()).hexdigest() == digest
