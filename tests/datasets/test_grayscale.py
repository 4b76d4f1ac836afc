"""LGPRandomGrayscale (lgp.datasets.transforms.grayscale): mmcv's RandomGrayscale, bit for bit, with the same draws
from Python's random, for the configs' settings and others; inputs it does not speed up go to mmcv's code."""

import random

import numpy as np
import pytest
from mmcv.transforms import RandomGrayscale
from sklearn.datasets import load_sample_images

from lgp.datasets.transforms import LGPRandomGrayscale

#: the configs' weights (BGR images: B 0.114, G 0.587, R 0.2989), mmcv's default, and uneven ones
WEIGHTS = [(0.114, 0.587, 0.2989), (1.0, 1.0, 1.0), (0.3, 2.0, 0.7)]


def images() -> list[np.ndarray]:
    """Random noise (every value, both extremes) and scikit-learn's two photos, BGR uint8."""
    noise = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    noise[0, :3] = [[0, 0, 0], [255, 255, 255], [255, 0, 255]]
    return [noise, *(np.ascontiguousarray(p[..., ::-1]) for p in load_sample_images().images)]


@pytest.mark.parametrize('weights', WEIGHTS)
@pytest.mark.parametrize('keep_channels', [True, False])
@pytest.mark.parametrize('prob', [0.0, 0.2, 1.0])
def test_output_and_draws_are_mmcvs(weights, keep_channels, prob):
    options = dict(prob=prob, keep_channels=keep_channels, channel_weights=weights)
    ours, theirs = LGPRandomGrayscale(**options), RandomGrayscale(**options)
    for seed in range(10):
        for img in images():
            random.seed(seed)
            expected = theirs(dict(img=img.copy()))['img'], random.random()
            random.seed(seed)
            got = ours(dict(img=img.copy()))['img'], random.random()
            np.testing.assert_array_equal(got[0], expected[0])
            assert got[0].dtype == expected[0].dtype == np.uint8 and got[1] == expected[1]


@pytest.mark.parametrize(
    'img, options',
    [
        (np.full((8, 8), 7, np.uint8), {}),  # 2-D
        (np.full((8, 8, 1), 7, np.uint8), dict(channel_weights=(1.0,))),  # one channel: never converted
        (np.full((8, 8, 3), 7, np.uint8), dict(color_format='hsv')),  # converted to BGR first
    ],
)
def test_other_inputs_take_mmcvs_code(img, options):
    options = dict(prob=1.0, keep_channels=True, **options)
    random.seed(0)
    expected = RandomGrayscale(**options)(dict(img=img.copy()))['img']
    random.seed(0)
    np.testing.assert_array_equal(LGPRandomGrayscale(**options)(dict(img=img.copy()))['img'], expected)
