"""Reduced-size JPEG decoding (lgp.datasets.transforms.fast_decode): LoadEncodedImage + DecodeRandomResizedCrop draw
mmpretrain's crop boxes from the same numpy calls; where they decode at full size their output is mmcv's loading +
mmpretrain's RandomResizedCrop, bit for bit (JPEG, grayscale, CMYK, EXIF-rotated, PNG; the two views of a MultiView
share one decode); where they decode at 1/2-1/8 the crops keep the reference's distribution of mean colour and
contrast but are softer (the reason the configs keep the full-size decode), and the comparison catches a channel
swap and a crop of the wrong size."""

from pathlib import Path

import cv2
import mmcv
import numpy as np
import pytest
from mmcv.transforms import Compose, RandomFlip
from mmpretrain.datasets import MultiView, PackInputs, RandomResizedCrop
from PIL import Image
from scipy import stats
from sklearn.datasets import load_sample_images

from lgp.datasets.transforms import (
    CorruptImageError,
    DecodeRandomResizedCrop,
    EncodedImage,
    LGPLoadImageFromFile,
    LoadEncodedImage,
)

#: MAE's crop (imagenet_mae.py) and MoCo v3's (imagenet_mocov3.py)
MAE_CROP = dict(scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow', interpolation='bicubic')
MOCO_CROP = dict(scale=224, crop_ratio_range=(0.08, 1.0), backend='pillow')
SAMPLES = 150
STATS = ('mean B', 'mean G', 'mean R', 'std B', 'std G', 'std R', 'sharpness')


def photos() -> list[np.ndarray]:
    """scikit-learn's china.jpg and flower.jpg, (427, 640, 3) RGB."""
    return list(load_sample_images().images)


@pytest.fixture(scope='module')
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Test images: ImageNet-sized JPEGs (colour, grayscale, CMYK, EXIF-rotated), a PNG, and a 1920 x 1281 mosaic
    of the two photos at their own resolution (real detail, big enough for 1/2 and 1/4 decodes)."""
    folder = tmp_path_factory.mktemp('fast_decode')
    china, flower = (Image.fromarray(p) for p in photos())
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: decoded 640 x 427
    a, b = photos()
    row = [np.concatenate(r, axis=1) for r in ((a, b, a[:, ::-1]), (b[::-1], a, b[:, ::-1]), (a[::-1], b, a))]
    images = {
        'colour.jpg': (china.crop((0, 0, 500, 375)), dict(quality=85)),
        'gray.jpg': (flower.convert('L').crop((0, 0, 375, 427)), dict(quality=90)),
        'cmyk.jpg': (flower.convert('CMYK'), dict(quality=90)),
        'rotated.jpg': (china, dict(quality=90, exif=exif.tobytes())),
        'lossless.png': (flower.crop((100, 0, 600, 333)), {}),
        'mosaic.jpg': (Image.fromarray(np.concatenate(row, axis=0)), dict(quality=90)),
    }
    for name, (image, options) in images.items():
        image.save(folder / name, **options)
    return {name: folder / name for name in images}


def run(pipeline: list, path: Path, seed: int) -> dict:
    np.random.seed(seed)
    return Compose(pipeline)(dict(img_path=str(path)))


def reference(crop: dict) -> list:
    return [LGPLoadImageFromFile(), RandomResizedCrop(**crop)]


def fast(crop: dict, **options) -> list:
    return [LoadEncodedImage(), DecodeRandomResizedCrop(**crop, **options)]


@pytest.mark.parametrize('name', ['colour.jpg', 'gray.jpg', 'cmyk.jpg', 'rotated.jpg', 'lossless.png', 'mosaic.jpg'])
def test_the_header_gives_the_shape_of_mmcvs_decode(files, name):
    content = files[name].read_bytes()
    assert EncodedImage(content, name).shape == mmcv.imfrombytes(content, backend='cv2').shape


def test_crop_boxes_are_mmpretrains_for_the_same_seed(files):
    """The same box and the same numpy draws after it, for image shapes that take every branch (fallback included)."""
    encoded = EncodedImage(files['rotated.jpg'].read_bytes(), 'rotated.jpg')
    shapes = [encoded.shape, (375, 500, 3), (50, 900, 3)]  # the last: too wide for 3/4-4/3, central-crop fallback
    for shape in shapes:
        for crop in (MAE_CROP, MOCO_CROP):
            ref, new = RandomResizedCrop(**crop), DecodeRandomResizedCrop(**crop)
            stand_in = encoded if shape == encoded.shape else np.empty((*shape[:2], 0), np.uint8)
            for seed in range(100):
                np.random.seed(seed)
                expected = ref.rand_crop_params(np.empty(shape, np.uint8)), np.random.rand()
                np.random.seed(seed)
                assert (new.rand_crop_params(stand_in), np.random.rand()) == expected


@pytest.mark.parametrize('name', ['colour.jpg', 'gray.jpg', 'cmyk.jpg', 'rotated.jpg', 'lossless.png', 'mosaic.jpg'])
@pytest.mark.parametrize('crop', [MAE_CROP, MOCO_CROP], ids=['mae', 'mocov3'])
def test_full_size_decodes_are_the_reference_bit_for_bit(files, name, crop):
    """At the default margin no box of an ImageNet-sized file (under 448 px on a side) decodes reduced; the mosaic
    is held at full size by a margin no box meets."""
    options = dict(decode_margin=100.0) if name == 'mosaic.jpg' else {}
    for seed in range(10):
        expected = run(reference(crop), files[name], seed)
        got = run(fast(crop, **options), files[name], seed)
        np.testing.assert_array_equal(got['img'], expected['img'])
        assert got['img_shape'] == expected['img_shape'] and got['ori_shape'] == expected['ori_shape']


def test_multiview_views_share_one_decode_and_match_the_reference(files):
    """MoCo v3's layout: the views of one EncodedImage; at full size each is the reference view."""

    def pipeline(load: type, crop: type) -> list:
        view = [dict(type=crop, **MOCO_CROP), dict(type=RandomFlip, prob=0.5)]
        return [load(), MultiView(transforms=[view, view], num_views=[1, 1]), PackInputs()]

    for seed in range(10):
        expected = run(pipeline(LGPLoadImageFromFile, RandomResizedCrop), files['colour.jpg'], seed)
        got = run(pipeline(LoadEncodedImage, DecodeRandomResizedCrop), files['colour.jpg'], seed)
        for view, expected_view in zip(got['inputs'], expected['inputs'], strict=True):
            np.testing.assert_array_equal(view.numpy(), expected_view.numpy())


def test_a_decode_is_reused_at_its_own_reduction_or_coarser(files):
    encoded = EncodedImage(files['mosaic.jpg'].read_bytes(), 'mosaic.jpg')
    assert [encoded.decode(r)[1] for r in (4, 2, 8, 4, 1, 8)] == [4, 2, 4, 4, 1, 4]
    assert encoded.decode(2)[0].shape == (641, 960, 3)  # ceil(1281 / 2) x 960
    assert not encoded.decode(1)[0].flags.writeable
    png = EncodedImage(files['lossless.png'].read_bytes(), 'lossless.png')
    assert png.decode(8)[1] == 1  # reduced decoding is for JPEGs only


def image_stats(img: np.ndarray) -> np.ndarray:
    """Per-channel mean and standard deviation (B, G, R order) and sharpness: the mean absolute Laplacian of the
    channel mean."""
    img = img.astype(np.float64)
    sharpness = np.abs(cv2.Laplacian(img.mean(axis=2), cv2.CV_64F)).mean()
    return np.r_[img.mean(axis=(0, 1)), img.std(axis=(0, 1)), sharpness]


def sample_stats(pipeline: list, path: Path, transform=lambda img: img) -> np.ndarray:
    """(SAMPLES, 7) statistics of the crops of seeds 0..SAMPLES-1."""
    return np.array([image_stats(transform(run(pipeline, path, seed)['img'])) for seed in range(SAMPLES)])


def mismatches(expected: np.ndarray, got: np.ndarray) -> list[str]:
    """The statistics whose distributions differ: a two-sample KS test rejects at p <= 0.01 AND the mean moves by
    more than a tenth of the reference's own seed-to-seed standard deviation of that statistic."""
    failed = []
    for name, ref, new in zip(STATS, expected.T, got.T, strict=True):
        if stats.ks_2samp(ref, new, method='asymp').pvalue <= 0.01 and abs(new.mean() - ref.mean()) > 0.1 * ref.std():
            failed.append(name)
    return failed


@pytest.fixture(scope='module')
def reference_stats(files) -> np.ndarray:
    return sample_stats(reference(MAE_CROP), files['mosaic.jpg'])


def reductions(crop: DecodeRandomResizedCrop, path: Path) -> np.ndarray:
    """The reduction each seed's box gets."""
    encoded = EncodedImage(path.read_bytes(), path.name)
    draws = []
    for seed in range(SAMPLES):
        np.random.seed(seed)
        _, _, h, w = crop.rand_crop_params(encoded)
        draws.append(crop.reduction(h, w))
    return np.array(draws)


@pytest.mark.parametrize(
    'margin, reduced_share, softer',
    [(1.0, 0.9, (0.03, 0.10)), (2.0, 0.4, (0.005, 0.05))],
)
def test_reduced_decodes_keep_colour_and_contrast_but_are_softer(files, reference_stats, margin, reduced_share, softer):
    """Mosaic crops decoded at 1/2 or 1/4: the reference's distribution of mean colour and contrast; sharpness lower
    by 3-10 % at margin 1 (the comparison flags it), by less at margin 2 (the crops decoded reduced only)."""
    pipeline = fast(MAE_CROP, decode_margin=margin)
    reduced = reductions(pipeline[1], files['mosaic.jpg']) > 1
    assert reduced.mean() > reduced_share
    got = sample_stats(pipeline, files['mosaic.jpg'])
    assert set(mismatches(reference_stats, got)) <= {'sharpness'}
    if margin == 1.0:
        assert mismatches(reference_stats, got) == ['sharpness']
    loss = 1 - (got[reduced, -1] / reference_stats[reduced, -1]).mean()
    assert softer[0] < loss < softer[1]


def test_the_comparison_catches_swapped_channels_and_a_wrong_crop_size(files, reference_stats):
    """The reference's own crops in RGB instead of BGR; full-size crops of half the drawn area (each side off by a
    factor of 1.41)."""
    swapped = sample_stats(reference(MAE_CROP), files['mosaic.jpg'], transform=lambda img: img[..., ::-1])
    assert {'std B', 'std R'} <= set(mismatches(reference_stats, swapped))

    class HalfAreaCrop(DecodeRandomResizedCrop):
        def rand_crop_params(self, img):
            top, left, h, w = super().rand_crop_params(img)
            return top, left, round(h / 2**0.5), round(w / 2**0.5)

    wrong = sample_stats([LoadEncodedImage(), HalfAreaCrop(**MAE_CROP, decode_margin=100.0)], files['mosaic.jpg'])
    assert 'sharpness' in mismatches(reference_stats, wrong)


def test_unreadable_files_and_misuse_are_named(files, tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(files['colour.jpg'].read_bytes()[:40])
    with pytest.raises(CorruptImageError, match=rf'Cannot read image {broken}.*skip_corrupt=True'):
        LoadEncodedImage()(dict(img_path=str(broken)))
    assert LoadEncodedImage(skip_corrupt=True)(dict(img_path=str(broken))) is None
    loaded = LoadEncodedImage()(dict(img_path=str(files['colour.jpg'])))
    with pytest.raises(
        TypeError, match='not decoded yet: LoadEncodedImage must be followed by DecodeRandomResizedCrop'
    ):
        RandomFlip(prob=1.0)(loaded)
    with pytest.raises(ValueError, match='decode_margin must be at least 1'):
        DecodeRandomResizedCrop(scale=224, decode_margin=0.5)


def test_a_file_cut_after_its_header_is_named_or_skipped_in_the_crop(files, tmp_path):
    content = files['colour.jpg'].read_bytes()
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(content[: len(content) // 2])
    with pytest.raises(CorruptImageError, match=rf'Cannot decode image {cut}.*skip_corrupt=True on LoadEncodedImage'):
        run(fast(MAE_CROP), cut, seed=0)
    assert run([LoadEncodedImage(skip_corrupt=True), DecodeRandomResizedCrop(**MAE_CROP)], cut, seed=0) is None
