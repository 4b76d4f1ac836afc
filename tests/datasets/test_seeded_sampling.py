"""Data loading seeded per sample: the same (seed, epoch, index) gives the same augmented sample whatever process
loads it, a new epoch gives new augmentations, and loading leaves the main process's generators alone."""

import pickle
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import RandomFlip
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.registry import DATA_SAMPLERS, DATASETS
from mmpretrain.datasets import CustomDataset, PackInputs, RandomResizedCrop

from lgp.datasets import SeededDataset, SeededInfiniteSampler, SeededSampler, sample_seed
from lgp.datasets.transforms import LGPLoadImageFromFile
from lgp.engine import StrictRunner

NUM_SAMPLES = 8


def digits(digits_root: Path) -> dict:
    """A config of 8 digits with random crops and flips (mmpretrain's and mmcv's transforms)."""
    pipeline = [
        dict(type=LGPLoadImageFromFile),
        dict(type=RandomResizedCrop, scale=32, crop_ratio_range=(0.2, 1.0), backend='pillow'),
        dict(type=RandomFlip, prob=0.5),
        dict(type=PackInputs),
    ]
    return dict(
        type=CustomDataset,
        data_root=str(digits_root),
        ann_file='meta/train.txt',
        data_prefix='',
        indices=NUM_SAMPLES,
        pipeline=pipeline,
    )


def load(dataset: dict, num_workers: int, persistent: bool, num_epochs: int, first: int = 0) -> dict:
    """{(epoch, sample index): image} of ``num_epochs`` epochs from ``first`` of a new loader built by
    ``StrictRunner``."""
    loader = StrictRunner.build_dataloader(
        dict(
            batch_size=3,
            num_workers=num_workers,
            persistent_workers=persistent,
            sampler=dict(type=DefaultSampler, shuffle=True),
            dataset=dataset,
        ),
        seed=0,
    )
    images = {}
    for epoch in range(first, first + num_epochs):
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            for image, sample in zip(batch['inputs'], batch['data_samples'], strict=True):
                images[epoch, sample.sample_idx] = image
    return images


class Draws:
    """A dataset whose samples are one draw of each generator lgp seeds."""

    metainfo = dict(classes=('draw',))

    def __len__(self) -> int:
        return NUM_SAMPLES

    def __getitem__(self, index: int) -> tuple:
        return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_sample_seed_is_a_function_of_seed_epoch_and_index() -> None:
    assert sample_seed(0, 1, 2) == sample_seed(0, 1, 2)
    assert len({sample_seed(0, 1, 2), sample_seed(1, 1, 2), sample_seed(0, 2, 2), sample_seed(0, 1, 3)}) == 4
    assert 0 <= sample_seed(2**40, 3, 10**6) < 2**32


def test_samplers_keep_mmengine_order_and_add_seeds() -> None:
    data = list(range(10))
    plain, seeded = DefaultSampler(data, seed=3), SeededSampler(data, seed=3)
    plain.set_epoch(2)
    seeded.set_epoch(2)
    assert list(seeded) == [(i, sample_seed(3, 2, i)) for i in plain]

    infinite = iter(InfiniteSampler(data, seed=3))
    order = [next(infinite) for _ in range(25)]  # two passes and a half
    seeded_infinite = iter(SeededInfiniteSampler(data, seed=3))
    assert [next(seeded_infinite) for _ in range(25)] == [(i, sample_seed(3, n // 10, i)) for n, i in enumerate(order)]
    assert DATA_SAMPLERS.get('SeededSampler') is SeededSampler
    assert DATA_SAMPLERS.get('SeededInfiniteSampler') is SeededInfiniteSampler
    assert DATASETS.get('SeededDataset') is SeededDataset


def test_wrapper_seeds_all_three_generators_and_delegates() -> None:
    wrapped = SeededDataset(Draws())
    assert wrapped[3, 7] == wrapped[3, 7] != wrapped[3, 8]
    assert wrapped[3] != wrapped[3]  # a plain index loads unseeded
    assert len(wrapped) == NUM_SAMPLES and wrapped.metainfo == Draws.metainfo
    assert not hasattr(wrapped, '__getitems__')
    assert pickle.loads(pickle.dumps(wrapped))[1, 7] == wrapped[1, 7]  # spawned workers receive it pickled
    with pytest.raises(AttributeError):
        wrapped.no_such_attribute  # noqa: B018


@pytest.mark.parametrize(
    'num_workers, persistent', [(0, False), (2, False), (2, True)], ids=['main', 'workers', 'persistent']
)
def test_same_seed_epoch_and_index_give_the_same_sample(num_workers, persistent, digits_root) -> None:
    """Whoever loads it: the main process or one of 2 workers, persistent or not."""
    images = load(digits(digits_root), num_workers, persistent, num_epochs=2)
    assert len(images) == 2 * NUM_SAMPLES
    reference = SeededDataset(digits(digits_root))
    for (epoch, index), image in images.items():
        assert torch.equal(image, reference[index, sample_seed(0, epoch, index)]['inputs']), (epoch, index)
    assert all(not torch.equal(images[0, i], images[1, i]) for i in range(NUM_SAMPLES))  # new epoch, new crops


def test_a_loader_restarted_at_an_epoch_loads_what_the_first_one_did(digits_root) -> None:
    """A resumed run's new loader (new workers, or none) at epoch 1 yields the samples of the uninterrupted one."""
    straight = load(digits(digits_root), 2, False, num_epochs=3)
    for num_workers in (2, 0):
        resumed = load(digits(digits_root), num_workers, False, num_epochs=2, first=1)
        assert resumed.keys() == {key for key in straight if key[0] >= 1}
        differing = [key for key, image in resumed.items() if not torch.equal(image, straight[key])]
        assert not differing, f'(epoch, index) loaded differently after a restart: {differing}'


def test_infinite_sampler_loads_the_same_samples_with_workers(digits_root) -> None:
    """Iteration-based loops: 12 samples (one and a half passes) from the main process and from 2 workers."""
    samples = []
    for num_workers in (0, 2):
        loader = StrictRunner.build_dataloader(
            dict(
                batch_size=3,
                num_workers=num_workers,
                sampler=dict(type='InfiniteSampler', shuffle=True),
                dataset=digits(digits_root),
            ),
            seed=0,
        )
        assert isinstance(loader.sampler, SeededInfiniteSampler) and isinstance(loader.dataset, SeededDataset)
        batches = iter(loader)
        samples.append(torch.cat([torch.stack(next(batches)['inputs']) for _ in range(4)]))
    assert torch.equal(samples[0], samples[1])


def draws_after_seeding(load_first: Callable[[], object] | None = None) -> tuple:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    if load_first is not None:
        load_first()
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_loading_in_the_main_process_leaves_its_generators_alone(digits_root) -> None:
    """With num_workers=0 the model's own draws (MAE masks, drop path) are what they would be without loading."""
    assert draws_after_seeding(lambda: load(digits(digits_root), 0, False, 1)) == draws_after_seeding()
