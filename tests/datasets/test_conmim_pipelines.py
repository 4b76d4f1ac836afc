"""ConMIM's inputs (configs/_base_/datasets/imagenet_conmim.py, imagenet_conmim_random32.py, digits_conmim.py): one
shared flip and crop, then the views [corrupted, full] of that same crop, the full one alone perturbed by the
configured strong pipeline; BEiT's block mask with exactly 75 of 196 (24 of 64 on the digits) masked patches, or 37
random 32-px units; packed as two (B, 3, H, W) batches with each data sample's ``mask``. And lgp's BlockMaskGenerator
(lgp.datasets.transforms.block_mask): blocks anywhere on the grid, unlike mmpretrain's BEiTMaskGenerator."""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes, before mmcv, mmengine and mmpretrain)

import copy
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose, RandomFlip
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.datasets import BEiTMaskGenerator, MultiView, PackInputs, RandomResizedCrop, SimMIMMaskGenerator
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

from lgp.datasets.transforms import BlockMaskGenerator, LGPLoadImageFromFile

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / 'configs/_base_/datasets'

# the official ConMIM MaskGenerator (masking_generator.py) for --mask_type random_mps32 --mask_ratio 0.75:
# a (224 / 32)^2 = 7 x 7 grid of units, mask_count = int(np.ceil(token_count * mask_ratio))
OFFICIAL_RANDOM32_UNITS = int(np.ceil((224 // 32) ** 2 * 0.75))


def load(name: str) -> Config:
    return Config.fromfile(DATASETS / f'{name}.py')


def build(pipeline) -> list:
    """The transforms after the loading one."""
    assert pipeline[0].type is LGPLoadImageFromFile
    return [TRANSFORMS.build(t) for t in pipeline[1:]]


def synthetic(seed: int) -> dict:
    img = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    return dict(img=img, img_shape=(300, 400), ori_shape=(300, 400))


def seed_all(seed: int) -> None:
    """numpy's and Python's generators: mmcv's RandomGrayscale draws from ``random``, the others from numpy."""
    np.random.seed(seed)
    random.seed(seed)


def apply(transforms: list, results: dict) -> dict:
    for transform in transforms:
        results = transform(results)
    return results


@pytest.mark.parametrize('name', ['imagenet_conmim', 'imagenet_conmim_random32', 'digits_conmim'])
def test_pipeline_is_flip_crop_two_views_mask_pack(name):
    cfg = load(name)
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipeline] == [
        LGPLoadImageFromFile,
        RandomFlip,
        RandomResizedCrop,
        MultiView,
        SimMIMMaskGenerator if name.endswith('random32') else BlockMaskGenerator,
        PackInputs,
    ]
    assert pipeline[3].num_views == [1, 1]
    assert pipeline[3].transforms == [cfg.basic_view, cfg.strong_view] and cfg.basic_view == []
    assert pipeline[4] == cfg.mask_generator
    assert cfg.train_dataloader.collate_fn.type is default_collate


def test_random32_replaces_only_the_mask_generator():
    base, random32 = load('imagenet_conmim'), load('imagenet_conmim_random32')
    expected = base.train_dataloader.to_dict()
    expected['dataset']['pipeline'][4] = random32.mask_generator.to_dict()
    assert random32.train_dataloader.to_dict() == expected


def test_digits_twin_overrides_only_the_scale():
    imagenet, digits = load('imagenet_conmim'), load('digits_conmim')
    expected = imagenet.train_dataloader.dataset.pipeline
    expected[2].scale = 32
    expected[4].update(input_size=8, num_masking_patches=24, min_num_patches=5)
    assert digits.train_dataloader.dataset.pipeline == expected
    assert digits.train_dataloader.batch_size == 64 and imagenet.train_dataloader.batch_size == 256


def test_without_strong_perturbations_the_views_are_identical():
    cfg = load('imagenet_conmim')
    cfg.train_dataloader.dataset.pipeline[3].transforms[1] = []
    transforms = build(cfg.train_dataloader.dataset.pipeline)[:-1]  # up to the mask: the views as arrays
    seed_all(0)
    for seed in range(5):
        corrupted, full = apply(transforms, synthetic(seed))['img']
        assert corrupted.shape == (224, 224, 3) and corrupted.dtype == np.uint8
        np.testing.assert_array_equal(corrupted, full)


@pytest.mark.parametrize('name, size', [('imagenet_conmim', 224), ('digits_conmim', 32)])
def test_views_are_the_shared_crop_and_the_strong_pipeline_of_that_crop(name, size):
    """Replaying the seed: the corrupted view is the flip + crop alone, the full view the strong pipeline of it."""
    cfg = load(name)
    pipeline = cfg.train_dataloader.dataset.pipeline
    transforms = build(pipeline)[:-1]  # flip, crop, views, mask
    flip, crop, _, mask_generator = build(pipeline)[:-1]
    strong = Compose(cfg.strong_view)
    perturbed = 0
    for seed in range(12):
        seed_all(seed)
        results = apply(transforms, synthetic(seed))
        corrupted, full = results['img']

        seed_all(seed)
        shared = crop(flip(synthetic(seed)))
        np.testing.assert_array_equal(corrupted, shared['img'])
        np.testing.assert_array_equal(full, strong(copy.deepcopy(shared))['img'])
        np.testing.assert_array_equal(results['mask'], mask_generator({})['mask'])
        assert corrupted.shape == full.shape == (size, size, 3)
        perturbed += not np.array_equal(corrupted, full)
    assert perturbed >= 6  # colour jitter alone has p 0.8


def test_swapping_basic_and_strong_view_swaps_the_perturbed_view(tmp_path):
    """The "perturbations switched" ablation, as a derived config does it."""
    for base in ('imagenet_mae.py', 'imagenet_mocov3.py', 'imagenet_conmim.py'):
        shutil.copy(DATASETS / base, tmp_path / base)
    (tmp_path / 'swapped.py').write_text(
        'from mmengine.config import read_base\n\n'
        'with read_base():\n'
        '    from .imagenet_conmim import *\n\n'
        'train_pipeline[3].transforms = [strong_view, basic_view]\n'
        'train_dataloader.dataset.pipeline = train_pipeline\n'
    )
    swapped_cfg = Config.fromfile(tmp_path / 'swapped.py')
    assert swapped_cfg.train_dataloader.dataset.pipeline[3].transforms == [swapped_cfg.strong_view, []]
    original, swapped = (
        build(c.train_dataloader.dataset.pipeline)[:-1] for c in (load('imagenet_conmim'), swapped_cfg)
    )
    changed = 0
    for seed in range(8):
        seed_all(seed)
        first = apply(original, synthetic(seed))
        seed_all(seed)
        second = apply(swapped, synthetic(seed))
        # the same random draws in the same order: the perturbed image moves from the second view to the first
        np.testing.assert_array_equal(second['img'][0], first['img'][1])
        np.testing.assert_array_equal(second['img'][1], first['img'][0])
        np.testing.assert_array_equal(second['mask'], first['mask'])
        changed += not np.array_equal(first['img'][0], first['img'][1])
    assert changed > 0


@pytest.mark.parametrize('name, side, count', [('imagenet_conmim', 14, 75), ('digits_conmim', 8, 24)])
def test_block_mask_has_exactly_the_configured_count(name, side, count):
    generator = TRANSFORMS.build(load(name).train_dataloader.dataset.pipeline[4])
    np.random.seed(0)
    masks = np.stack([generator({})['mask'] for _ in range(500)])
    assert masks.shape == (500, side, side)
    assert set(np.unique(masks).tolist()) == {0, 1}
    assert (masks.sum(axis=(1, 2)) == count).all()
    assert len({m.tobytes() for m in masks}) > 400  # random blocks, not a fixed pattern


def test_random32_mask_masks_the_official_count_of_whole_2x2_units():
    assert OFFICIAL_RANDOM32_UNITS == 37  # int(ceil(49 * 0.75)) = int(ceil(36.75))
    generator = TRANSFORMS.build(load('imagenet_conmim_random32').train_dataloader.dataset.pipeline[4])
    np.random.seed(0)
    for _ in range(200):
        mask = generator({})['mask']
        assert mask.shape == (14, 14)  # the model's 16-px patch grid, not the 7 x 7 grid of units
        units = mask.reshape(7, 2, 7, 2)
        assert (units.min(axis=(1, 3)) == units.max(axis=(1, 3))).all()  # every 2 x 2 unit all or nothing
        assert units[:, 0, :, 0].sum() == OFFICIAL_RANDOM32_UNITS
        assert mask.sum() == 4 * OFFICIAL_RANDOM32_UNITS


@pytest.mark.parametrize('name, count', [('imagenet_conmim', 75), ('imagenet_conmim_random32', 148)])
def test_packed_and_collated_batch(name, count):
    cfg = load(name)
    transforms = build(cfg.train_dataloader.dataset.pipeline)
    seed_all(0)
    batch = default_collate([apply(transforms, synthetic(seed)) for seed in range(3)])
    corrupted, full = batch['inputs']
    for view in (corrupted, full):
        assert isinstance(view, torch.Tensor) and view.dtype == torch.uint8 and view.shape == (3, 3, 224, 224)
    samples = batch['data_samples']
    assert len(samples) == 3 and all(isinstance(s, DataSample) for s in samples)
    masks = torch.stack([s.mask for s in samples])  # as the model reads them
    assert masks.shape == (3, 14, 14) and masks.dtype == torch.int64
    assert masks.flatten(1).sum(1).tolist() == [count] * 3
    assert samples[0].img_shape[:2] == (224, 224)  # mmpretrain's RandomResizedCrop records (H, W, C)


def test_digits_config_loads_and_collates_views_and_masks(digits_root):
    from mmengine.runner import Runner

    loader_cfg = load('digits_conmim').train_dataloader
    loader_cfg.update(batch_size=4, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.data_root = str(digits_root)
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=0)))
    corrupted, full = batch['inputs']
    assert corrupted.shape == full.shape == (4, 3, 32, 32) and corrupted.dtype == full.dtype == torch.uint8
    masks = torch.stack([s.mask for s in batch['data_samples']])
    assert masks.shape == (4, 8, 8)
    assert masks.flatten(1).sum(1).tolist() == [24] * 4


@pytest.mark.parametrize('side, count, min_block', [(14, 75, 16), (8, 24, 5)])
def test_block_masks_reach_every_row_and_column_symmetrically(side, count, min_block):
    """BEiT places a block at top in 0..H - h (both ends): the mask frequency is symmetric about the grid's centre."""
    generator = BlockMaskGenerator(input_size=side, num_masking_patches=count, min_num_patches=min_block)
    np.random.seed(0)
    masks = np.stack([generator({})['mask'] for _ in range(2000)])
    assert masks.dtype == np.int64 and (masks.sum(axis=(1, 2)) == count).all()
    frequency = masks.mean(axis=0)
    assert frequency.min() > 0  # every patch is masked sometimes, the last row and column included
    for profile in (frequency.mean(axis=1), frequency.mean(axis=0)):  # rows, columns
        np.testing.assert_allclose(profile, profile[::-1], atol=0.03)


def test_mmpretrain_beit_mask_generator_never_masks_the_last_row_or_column():
    """Why BlockMaskGenerator exists: mmpretrain 1.2 draws top from np.random.randint(0, H - h), the end excluded.

    If this starts failing, mmpretrain has fixed it and the configs could use its BEiTMaskGenerator again."""
    generator = BEiTMaskGenerator(input_size=14, num_masking_patches=75, min_num_patches=16)
    np.random.seed(0)
    masks = np.stack([generator({})['mask'] for _ in range(500)])
    assert masks[:, -1, :].sum() == 0 and masks[:, :, -1].sum() == 0
    assert masks[:, 0, :].sum() > 0 and masks[:, :, 0].sum() > 0


def test_block_mask_generator_is_registered_under_its_class_name():
    assert TRANSFORMS.get('BlockMaskGenerator') is BlockMaskGenerator
