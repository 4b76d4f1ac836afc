"""Synthetic features for the evaluation tests: Gaussian classes whose separation is known."""

from collections.abc import Callable

import pytest
import torch


def _gaussian_classes(
    n_per_class: int, dims: int = 20, scale: float = 4.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """3 Gaussian classes in ``dims``-D with means mu_c = scale * e_{2c}; returns (x (N, D), y (N,), means (3, D))."""
    g = torch.Generator().manual_seed(seed)
    means = torch.zeros(3, dims)
    for c in range(3):
        means[c, 2 * c] = scale
    y = torch.arange(3).repeat_interleave(n_per_class)
    return means[y] + torch.randn(len(y), dims, generator=g), y, means


@pytest.fixture
def gaussian_classes() -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``gaussian_classes(n_per_class, dims=20, scale=4.0, seed=0) -> (x, y, means)`` (see ``_gaussian_classes``)."""
    return _gaussian_classes
