"""Reseed the random generators at every epoch, so that a resumed run draws what an uninterrupted one would."""

import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Seed ``random``, numpy and torch with ``seed + epoch * 1000 + rank`` before each training epoch.

    mmengine seeds once at start and does not checkpoint the generators, so after ``--resume`` the augmentations
    and MAE masks of the remaining epochs differ from those of an uninterrupted run. Reseeding per epoch makes a
    run resumed at an epoch boundary draw the same numbers, in the main process (``num_workers=0``); data-loader
    workers are seeded by mmengine when they start.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = (runner.seed + runner.epoch * 1000 + get_rank()) % 2**32
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
