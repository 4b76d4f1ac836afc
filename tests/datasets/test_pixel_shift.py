"""PixelShiftViews (lgp.datasets.transforms.pixel_shift): CMAE's online view is the master crop's corner, the target
view the crop at the recorded offset, colour-augmented alone; the offsets cover 0..max_shift on each axis; the
ImageNet and digits configs build and give two views of the right size."""

from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import RandomApply
from mmengine.config import Config
from mmpretrain.datasets import ColorJitter, Solarize
from mmpretrain.registry import TRANSFORMS

from lgp.datasets.transforms import LGPLoadImageFromFile, PixelShiftViews

REPO = Path(__file__).resolve().parents[2]


def random_master(side: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def test_views_are_the_corner_and_the_crop_at_the_recorded_offset():
    master = random_master(37)
    np.random.seed(0)
    for _ in range(20):
        results = PixelShiftViews(size=32, max_shift=4)(dict(img=master.copy(), img_shape=(37, 37)))
        online, target = results['img']
        dy, dx = results['pixel_shift']
        np.testing.assert_array_equal(online, master[:32, :32])
        np.testing.assert_array_equal(target, master[dy : dy + 32, dx : dx + 32])
        for view in (online, target):
            assert view.dtype == np.uint8 and view.shape == (32, 32, 3) and view.flags.c_contiguous
        assert results['img_shape'] == (32, 32)


def test_offsets_cover_zero_to_max_shift_independently_on_each_axis():
    transform = PixelShiftViews(size=8, max_shift=4)
    master = random_master(13)
    np.random.seed(1)
    offsets = np.array([transform(dict(img=master))['pixel_shift'] for _ in range(500)])
    for axis in (0, 1):
        assert set(offsets[:, axis].tolist()) == set(range(5))
    assert (offsets[:, 0] != offsets[:, 1]).any()
    # independent axes: every (dy, dx) pair occurs (25 pairs, 500 draws: each expected 20 times)
    assert len({tuple(o) for o in offsets.tolist()}) == 25


def test_offsets_follow_numpy_global_seed():
    master = random_master(13)
    draws = []
    for _ in range(2):
        np.random.seed(7)
        draws.append([PixelShiftViews(size=8, max_shift=4)(dict(img=master))['pixel_shift'] for _ in range(10)])
    assert draws[0] == draws[1]


@pytest.mark.parametrize(
    'colour, reference',
    [
        (dict(type=Solarize, thr=0, prob=1.0), lambda crop: 255 - crop),  # thr 0: every pixel is inverted
        (
            dict(type=RandomApply, transforms=[dict(type=ColorJitter, brightness=(0.5, 0.5))], prob=1.0),
            lambda crop: (crop.astype(np.float32) * 0.5).round().clip(0, 255).astype(np.uint8),
        ),
    ],
    ids=['solarize', 'brightness'],
)
def test_colour_changes_the_shifted_target_only(colour, reference):
    master = random_master(37, seed=2)
    np.random.seed(3)
    results = PixelShiftViews(size=32, max_shift=4, target_transforms=[colour])(dict(img=master.copy()))
    online, target = results['img']
    dy, dx = results['pixel_shift']
    np.testing.assert_array_equal(online, master[:32, :32])
    expected = reference(master[dy : dy + 32, dx : dx + 32])
    np.testing.assert_allclose(target.astype(int), expected.astype(int), atol=1)  # Pillow's rounding of x * 0.5
    assert not np.array_equal(target, master[dy : dy + 32, dx : dx + 32])


def test_a_master_too_small_names_the_sizes():
    with pytest.raises(ValueError, match=r'36x37.*32.*4 px.*size \+ max_shift \+ 1 = 37.*RandomResizedCrop'):
        PixelShiftViews(size=32, max_shift=4)(dict(img=np.zeros((36, 37, 3), np.uint8)))
    # side == size + max_shift is refused too, as in the official code (max_shift + size < side)
    with pytest.raises(ValueError, match='RandomResizedCrop at least 38'):
        PixelShiftViews(size=32, max_shift=5)(dict(img=np.zeros((37, 37, 3), np.uint8)))


@pytest.mark.parametrize('config, size', [('imagenet_cmae.py', 224), ('digits_cmae.py', 32)])
def test_config_pipelines_give_two_views(config, size):
    cfg = Config.fromfile(REPO / 'configs/_base_/datasets' / config)
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert pipeline[0].type is LGPLoadImageFromFile and pipeline[3].type is PixelShiftViews
    transforms = [TRANSFORMS.build(t) for t in pipeline[1:]]
    np.random.seed(0)
    for _ in range(3):
        results = dict(img=np.random.randint(0, 256, (300, 400, 3), np.uint8))
        for transform in transforms:
            results = transform(results)
        views = results['inputs']
        assert isinstance(views, list) and len(views) == 2
        for view in views:
            assert isinstance(view, torch.Tensor) and view.dtype == torch.uint8 and view.shape == (3, size, size)
        assert results['data_samples'].img_shape == (size, size)


def test_registered_under_its_class_name():
    assert TRANSFORMS.get('PixelShiftViews') is PixelShiftViews


def test_digits_config_loads_and_collates_two_batches_of_views(digits_root):
    """The digits twin's data loader on real files: a batch is a list of two ``(B, 3, 32, 32)`` tensors."""
    from mmengine.runner import Runner

    cfg = Config.fromfile(REPO / 'configs/_base_/datasets/digits_cmae.py')
    loader_cfg = cfg.train_dataloader
    loader_cfg.update(batch_size=4, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.data_root = str(digits_root)
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))
    online, target = batch['inputs']
    assert online.shape == target.shape == (4, 3, 32, 32) and online.dtype == torch.uint8
