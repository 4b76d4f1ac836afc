"""Per-sample seeding of data loading: each sample's augmentation draws depend on (seed, epoch, sample index) only.

mmengine seeds each data-loader worker once, when it starts (``default_worker_init_fn``). What a sample's random
transforms draw then depends on which worker loads it, on what that worker loaded before and on whether the
workers outlive an epoch, so a resumed run (new workers) augments differently from an uninterrupted one. Here the
sampler hands out a seed with every index and the dataset wrapper seeds ``random``, numpy and torch's CPU generator
with it for the loading of that one sample:

- :class:`SeededSampler` (epoch-based loops) yields ``(index, sample_seed(sampler seed, epoch, index))``;
- :class:`SeededInfiniteSampler` (iteration-based loops) yields ``(index, sample_seed(sampler seed, pass, index))``,
  ``pass`` counting the passes over the data;
- :class:`SeededDataset` loads ``dataset[index]`` under that seed and puts the generators back as they were, so in
  the main process (``num_workers=0``) the model's own draws (MAE masks, drop path) are not disturbed.

The process rank is not part of the seed (the samplers give the ranks disjoint indices), nor is the worker, so the
result does not depend on the number of workers either. :class:`lgp.engine.StrictRunner` puts these in place of
mmengine's ``DefaultSampler`` and ``InfiniteSampler``.
"""

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.registry import DATA_SAMPLERS, DATASETS

from ..utils import preserved_rng_states


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The 32-bit seed of sample ``index`` in ``epoch`` (or pass over the data) of a sampler seeded with ``seed``."""
    return int(np.random.SeedSequence(seed % 2**64, spawn_key=(epoch, index)).generate_state(1)[0])


@contextmanager
def seeded_generators(seed: int) -> Iterator[None]:
    """Seed ``random``, ``numpy.random`` and torch's CPU generator with ``seed``; restore their states on exit."""
    with preserved_rng_states():
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)  # not torch.manual_seed: that would reseed the GPUs' generators too
        yield


@DATA_SAMPLERS.register_module()
class SeededSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` (same arguments, same order) yielding ``(index, sample seed)`` pairs."""

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in super().__iter__():
            yield index, sample_seed(self.seed, self.epoch, index)


@DATA_SAMPLERS.register_module()
class SeededInfiniteSampler(InfiniteSampler):
    """mmengine's ``InfiniteSampler`` (same arguments, same order) yielding ``(index, sample seed)`` pairs; the seed
    takes the number of the pass over the data where an epoch-based sampler takes the epoch."""

    def _infinite_indices(self) -> Iterator[tuple[int, int]]:  # mmengine's, with the pass number beside the index
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        for data_pass in itertools.count():
            order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
            for index in order.tolist():
                yield index, data_pass

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index, data_pass in self.indices:  # this rank's share of _infinite_indices
            yield index, sample_seed(self.seed, data_pass, index)


@DATASETS.register_module()
class SeededDataset:
    """A dataset wrapper: item ``(index, seed)`` is ``dataset[index]`` loaded under :func:`seeded_generators`
    ``(seed)``; a plain index loads unseeded. Every other attribute (``metainfo``, ``full_init``,
    ``get_data_info``, ...) is the wrapped dataset's.

    Args:
        dataset: the dataset, or its config (built with mmengine's ``DATASETS`` in the current default scope).
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int | tuple[int, int]) -> Any:
        if not isinstance(item, tuple):
            return self.dataset[item]
        index, seed = item
        with seeded_generators(seed):
            return self.dataset[index]

    def __getattr__(self, name: str) -> Any:
        # only reached for what the wrapper lacks; special names (pickling, torch's __getitems__) are not forwarded
        if name == 'dataset' or name.startswith('__'):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.dataset!r})'
