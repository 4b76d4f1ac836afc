"""t-SNE maps of frozen-encoder features, one panel per method, points coloured by class.

Each method's features are L2-normalised first (by default): Euclidean distances between unit vectors order pairs as
their cosine similarity does, the geometry that contrastive training shapes and that the few-shot classifier sees
(:func:`lgp.evaluation.prepare_features` normalises too), and methods whose features differ only in scale get the
same map. Then scikit-learn's Barnes-Hut t-SNE (perplexity 30), initialised by PCA: it draws nothing at random
(``seed``, its ``random_state``, reaches only PCA's randomised solver, which large inputs use), so the same features
and seed give the same map.

Symbols: N points, D feature dims, K classes, M methods.
"""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.collections import PathCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.manifold import TSNE

from .figures import image_grid, save_figure

PERPLEXITY = 30.0
MAX_LEGEND_CLASSES = 20  # up to this many classes a legend names them, beyond it a colour bar numbers them
TITLE_INCHES = 0.35
LEGEND_ROW_INCHES = 0.2
COLORBAR_INCHES = 0.6


def tsne_embedding(
    features: torch.Tensor, seed: int = 0, perplexity: float = PERPLEXITY, normalize: bool = True
) -> torch.Tensor:
    """2-D t-SNE (PCA initialisation, ``random_state=seed``) of features (N, D) -> (N, 2) float32.

    Args:
        normalize: L2-normalise each feature first (see the module docstring).

    Raises:
        ValueError: for features that are not (N, D), or N <= ``perplexity`` (t-SNE needs more points than the
            perplexity, its effective number of neighbours).
    """
    if features.dim() != 2:
        raise ValueError(f'Expected features (N, D), got shape {tuple(features.shape)}.')
    if len(features) <= perplexity:
        raise ValueError(
            f't-SNE with perplexity {perplexity:g} needs more than {perplexity:g} points, got {len(features)}: '
            'give more points or a smaller perplexity.'
        )
    x = features.detach().float().cpu()
    if normalize:
        x = F.normalize(x, dim=1)
    tsne = TSNE(n_components=2, perplexity=perplexity, init='pca', learning_rate='auto', random_state=seed)
    return torch.from_numpy(tsne.fit_transform(x.numpy()).astype(np.float32))


def plot_embeddings(
    embeddings: Mapping[str, torch.Tensor],
    labels: torch.Tensor,
    path: str | Path,
    class_names: Sequence[str] | None = None,
    panel_inches: float = 4.0,
    dpi: int = 100,
) -> Path:
    """Write a PNG of 2-D embeddings, a titled panel per method, points coloured by class.

    Args:
        embeddings: method -> (N, 2) points, each row the same image as the same row of ``labels``.
        labels: (N,) class indices 0..K-1, K = ``len(class_names)`` if given.
        class_names: named in a legend (up to 20 classes; beyond, a colour bar numbers the classes).
        panel_inches: side of each square panel. The PNG is M * ``panel_inches`` inches wide and ``panel_inches``
            plus 0.35 (titles) plus the legend's or colour bar's height tall, times ``dpi`` pixels.

    Returns:
        ``path``.
    """
    if not embeddings or len(labels) == 0:
        raise ValueError(f'Nothing to plot: {len(embeddings)} methods, {len(labels)} points.')
    labels = labels.detach().cpu().long()
    for method, points in embeddings.items():
        if tuple(points.shape) != (len(labels), 2):
            raise ValueError(f'{method}: expected ({len(labels)}, 2) points, one per label, got {tuple(points.shape)}.')
    num_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    if not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(f'Labels must lie in 0..{num_classes - 1} (a class each), got {labels.unique().tolist()}.')
    names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
    width = len(embeddings) * panel_inches
    legend = num_classes <= MAX_LEGEND_CLASSES
    if legend:
        cmap = ListedColormap(colormaps['tab10' if num_classes <= 10 else 'tab20'](range(num_classes)))
        entry_inches = 0.35 + 0.07 * max(len(name) for name in names)  # marker and name at fontsize 7
        rows = math.ceil(num_classes / max(1, int(width // entry_inches)))
        columns = math.ceil(num_classes / rows)  # the rows as full as the width allows, evenly
        bottom = LEGEND_ROW_INCHES * rows + 0.15
    else:
        cmap, bottom = ListedColormap(colormaps['turbo'](np.linspace(0, 1, num_classes))), COLORBAR_INCHES
    norm = BoundaryNorm(np.arange(num_classes + 1) - 0.5, num_classes)  # class k -> the k-th colour
    fig, axes = image_grid(1, len(embeddings), panel_inches, top=TITLE_INCHES, bottom=bottom)
    size = float(np.clip(3000 / len(labels), 1, 12))  # smaller points the more there are
    for ax, (method, points) in zip(axes[0], embeddings.items(), strict=True):
        xy = points.detach().cpu().numpy()
        scatter = ax.scatter(xy[:, 0], xy[:, 1], c=labels.numpy(), cmap=cmap, norm=norm, s=size, linewidths=0)
        ax.set_aspect('equal', adjustable='datalim')
        ax.set_title(method, fontsize=10)
    if legend:
        handles = [
            Line2D([], [], marker='o', linestyle='', markersize=5, color=cmap(k), label=name)
            for k, name in enumerate(names)
        ]
        fig.legend(handles=handles, loc='lower center', ncol=columns, fontsize=7, frameon=False, borderaxespad=0.2)
    else:
        _colorbar(fig, scatter, num_classes, bottom)
    return save_figure(fig, path, dpi)


def _colorbar(fig: Figure, scatter: PathCollection, num_classes: int, bottom: float) -> None:
    """A horizontal colour bar of the class indices 0..K-1 in the bottom margin (``bottom`` inches) of ``fig``, ticked
    at up to 11 of them."""
    height = fig.get_figheight()
    cax = fig.add_axes((0.1, 0.55 * bottom / height, 0.8, 0.2 * bottom / height))
    bar = fig.colorbar(scatter, cax=cax, orientation='horizontal')
    bar.set_ticks(np.unique(np.linspace(0, num_classes - 1, 11).round()))
    bar.ax.tick_params(labelsize=7)
    bar.set_label('class', fontsize=7, labelpad=1)


def plot_tsne(
    features: Mapping[str, torch.Tensor],
    labels: torch.Tensor,
    path: str | Path,
    seed: int = 0,
    perplexity: float = PERPLEXITY,
    normalize: bool = True,
    class_names: Sequence[str] | None = None,
    panel_inches: float = 4.0,
    dpi: int = 100,
) -> dict[str, torch.Tensor]:
    """t-SNE of each method's features (:func:`tsne_embedding`) plotted in one PNG (:func:`plot_embeddings`).

    Args:
        features: method -> features (N, D) of the same N images (D may differ between methods).
        labels: (N,) their classes.
        path: the PNG to write.

    Returns:
        method -> its (N, 2) embedding.
    """
    for method, x in features.items():
        if len(x) != len(labels):
            raise ValueError(f'{method}: {len(x)} features for {len(labels)} labels; give one label per feature.')
    embeddings = {method: tsne_embedding(x, seed, perplexity, normalize) for method, x in features.items()}
    plot_embeddings(embeddings, labels, path, class_names, panel_inches, dpi)
    return embeddings


__all__ = ['PERPLEXITY', 'plot_embeddings', 'plot_tsne', 'tsne_embedding']
