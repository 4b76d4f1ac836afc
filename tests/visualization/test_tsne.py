"""lgp.visualization.tsne: the PNG is written at its size with a panel per method and the classes' colours; the
embedding is (N, 2) and the same for a seed; well-separated classes stay separated in 2-D;
the L2 normalisation makes the map blind to each feature's scale; clear refusals of bad inputs."""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib import colormaps

from lgp.visualization.tsne import plot_embeddings, plot_tsne, tsne_embedding

PANEL, DPI = 2.0, 50


def separated_classes(n_per_class: int = 40, classes: int = 3, dims: int = 16, seed: int = 0):
    """Gaussian classes with unit variance and means 8 apart along their own axis: (x (N, D), y (N,))."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    means = torch.zeros(classes, dims)
    means[torch.arange(classes), torch.arange(classes)] = 8.0
    return means[y] + torch.randn(len(y), dims, generator=g), y


def nearest_neighbour_agreement(points: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of the points whose nearest other point has their label."""
    distances = torch.cdist(points, points).fill_diagonal_(float('inf'))
    return (labels[distances.argmin(dim=1)] == labels).float().mean().item()


@pytest.fixture(scope='module')
def classes() -> tuple[torch.Tensor, torch.Tensor]:
    return separated_classes()


def test_the_png_has_a_panel_per_method_and_the_class_colours(classes, tmp_path: Path) -> None:
    x, y = classes
    features = {'method A': x, 'method B': x[:, :8] * 3.0}
    embeddings = plot_tsne(features, y, tmp_path / 'tsne.png', class_names=['a', 'b', 'c'], panel_inches=PANEL, dpi=DPI)
    image = mpimg.imread(tmp_path / 'tsne.png')
    assert image.shape[1] == 2 * PANEL * DPI  # two panels side by side
    assert PANEL * DPI < image.shape[0] < (PANEL + 1) * DPI  # a panel tall, plus titles and the legend
    pixels = image[..., :3].reshape(-1, 3)
    for k in range(3):  # each class's colour is drawn (points and legend)
        assert np.abs(pixels - np.asarray(colormaps['tab10'](k)[:3])).max(axis=1).min() < 0.02
    assert list(embeddings) == ['method A', 'method B']


def test_many_classes_get_a_colour_bar(tmp_path: Path) -> None:
    labels = torch.arange(30).repeat(2)
    points = torch.randn(60, 2, generator=torch.Generator().manual_seed(0))
    path = plot_embeddings({'m': points}, labels, tmp_path / 'many.png', panel_inches=PANEL, dpi=DPI)
    assert mpimg.imread(path).shape[1] == PANEL * DPI


def test_the_embedding_is_2d_and_reproducible_for_a_seed(classes) -> None:
    x, _ = classes
    first = tsne_embedding(x, seed=3)
    assert first.shape == (len(x), 2) and first.dtype == torch.float32
    torch.testing.assert_close(tsne_embedding(x, seed=3), first, rtol=0, atol=0)


def test_separated_classes_stay_separated(classes) -> None:
    x, y = classes
    assert nearest_neighbour_agreement(x, y) == 1.0  # in D dims
    assert nearest_neighbour_agreement(tsne_embedding(x), y) >= 0.97  # and in 2-D


def test_normalised_features_ignore_each_features_scale(classes) -> None:
    x, _ = classes
    # powers of two: the normalised features are bit for bit those of x (t-SNE would amplify any rounding)
    scale = 2.0 ** torch.randint(-4, 5, (len(x), 1), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(tsne_embedding(x * scale), tsne_embedding(x), rtol=0, atol=0)
    assert not torch.allclose(tsne_embedding(x * scale, normalize=False), tsne_embedding(x, normalize=False))


def test_bad_inputs_are_refused(classes, tmp_path: Path) -> None:
    x, y = classes
    with pytest.raises(ValueError, match='perplexity 30 needs more than 30 points, got 20'):
        tsne_embedding(x[:20])
    with pytest.raises(ValueError, match='Expected features \\(N, D\\)'):
        tsne_embedding(x[0])
    with pytest.raises(ValueError, match='m: 120 features for 119 labels'):
        plot_tsne({'m': x}, y[:-1], tmp_path / 'x.png')
    with pytest.raises(ValueError, match=r'Labels must lie in 0..1 \(a class each\), got \[0, 1, 2\]'):
        plot_embeddings({'m': torch.zeros(len(y), 2)}, y, tmp_path / 'x.png', class_names=['a', 'b'])
    with pytest.raises(ValueError, match=r'm: expected \(120, 2\) points'):
        plot_embeddings({'m': torch.zeros(len(y), 3)}, y, tmp_path / 'x.png')
