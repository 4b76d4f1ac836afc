"""EpochSeedHook (lgp.engine.hooks.epoch_seed_hook): what the main process draws in an epoch depends only on
(seed, epoch, rank), not on what was drawn before, which is what makes a resume at an epoch boundary exact.

(The whole resume, through tools/train.py: tests/engine/test_strict_runner.py and test_resume_with_workers.py.)
"""

import random
from types import SimpleNamespace

import numpy as np
import torch

from lgp.engine import EpochSeedHook
from lgp.engine.hooks import epoch_seed_hook


def draws_of_epoch(seed: int, epoch: int, history: int) -> tuple:
    """Draw ``history`` numbers from each generator (an earlier life of the run), start the epoch, draw again."""
    random.seed(12345 + history)
    np.random.seed(12345 + history)
    torch.manual_seed(12345 + history)
    for _ in range(history):
        random.random(), np.random.rand(), torch.rand(1)
    EpochSeedHook().before_train_epoch(SimpleNamespace(seed=seed, epoch=epoch))
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_an_epochs_draws_do_not_depend_on_the_run_before_it():
    straight = draws_of_epoch(seed=0, epoch=2, history=50)  # after epochs 0 and 1 of this process
    resumed = draws_of_epoch(seed=0, epoch=2, history=0)  # a new process, resumed at epoch 2
    assert straight == resumed


def test_epochs_seeds_and_ranks_draw_differently(monkeypatch):
    base = draws_of_epoch(seed=0, epoch=2, history=0)
    assert draws_of_epoch(seed=0, epoch=3, history=0) != base
    assert draws_of_epoch(seed=1, epoch=2, history=0) != base
    monkeypatch.setattr(epoch_seed_hook, 'get_rank', lambda: 1)
    other_rank = draws_of_epoch(seed=0, epoch=2, history=0)
    assert all(a != b for a, b in zip(other_rank, base, strict=True))
