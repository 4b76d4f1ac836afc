"""Grids of image panels with matplotlib's Agg renderer (no pyplot, no display): a figure of exactly
(left + cols * panel) x (top + rows * panel + bottom) inches, so that a PNG saved at ``dpi`` has a known size."""

from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def image_grid(
    rows: int, cols: int, panel_inches: float, top: float, bottom: float, left: float = 0.0
) -> tuple[Figure, np.ndarray]:
    """A figure with a (rows, cols) array of square-ish axes without ticks; ``top``, ``bottom`` and ``left`` are the
    margins in inches (for column titles, a caption, row labels)."""
    width, height = left + cols * panel_inches, top + rows * panel_inches + bottom
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(
        rows,
        cols,
        squeeze=False,
        gridspec_kw=dict(
            left=left / width, right=1.0, bottom=bottom / height, top=1.0 - top / height, wspace=0.05, hspace=0.05
        ),
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def show_image(ax: Axes, image: torch.Tensor) -> None:
    """Draw an image (C, H, W) with values in [0, 1], C = 3 (RGB) or 1 (grey)."""
    array = image.detach().float().cpu().permute(1, 2, 0).numpy()
    if array.shape[-1] == 1:
        ax.imshow(array[..., 0], cmap='gray', vmin=0.0, vmax=1.0)
    else:
        ax.imshow(array, vmin=0.0, vmax=1.0)


def save_figure(fig: Figure, path: str | Path, dpi: int) -> Path:
    """Write ``fig`` as a PNG at ``dpi`` (its parent folders made), the figure's size times ``dpi`` in pixels."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format='png')
    return path


__all__ = ['image_grid', 'save_figure', 'show_image']
