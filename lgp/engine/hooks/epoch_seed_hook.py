"""Reseed the main process's random generators at every epoch, so that a resumed run draws what an uninterrupted
one would."""

import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Seed ``random``, numpy and torch with ``seed + epoch * 1000 + rank`` before each training epoch.

    mmengine seeds once at start and does not checkpoint the generators, so after ``--resume`` the model's random
    draws (MAE masks, drop path, mixup / cutmix) of the remaining epochs would differ from those of an
    uninterrupted run. Reseeding the main process per epoch makes a run resumed at an epoch boundary draw the same
    numbers. Data loading does not depend on it: :class:`lgp.engine.StrictRunner` seeds every sample's
    augmentation from (seed, epoch, sample index) in whichever process loads it (:mod:`lgp.datasets.seeded_sampling`)
    and restores the generators afterwards.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = (runner.seed + runner.epoch * 1000 + get_rank()) % 2**32
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
