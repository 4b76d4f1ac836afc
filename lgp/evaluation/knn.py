"""The weighted k-nearest-neighbour classifier of self-supervised learning (Wu et al. 2018, InstDisc; DINO's
``eval_knn``): a cheap read of how well a frozen encoder's features separate the classes.

Symbols: N train features, M test features, D feature dims, C classes, k neighbours, T the temperature. Features are
L2-normalised; each test feature's k most cosine-similar train features vote for their labels with weight
exp(s / T), s the similarity; the prediction is the class with the largest sum of weights.
"""

import torch
import torch.nn.functional as F


def _check_inputs(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    num_classes: int,
    k: int,
    temperature: float,
    chunk_size: int,
) -> None:
    """Raise ValueError naming what is wrong with the inputs of :func:`knn_predict`."""
    if train_features.dim() != 2 or test_features.dim() != 2:
        raise ValueError(
            f'Expected train and test features of shape (N, D) and (M, D), got {tuple(train_features.shape)} and '
            f'{tuple(test_features.shape)}: flatten or pool the features to one vector per image first.'
        )
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(
            f'Train features have {train_features.shape[1]} dims, test features {test_features.shape[1]}: extract '
            'both with the same encoder.'
        )
    if train_labels.shape != train_features.shape[:1]:
        raise ValueError(
            f'Expected one train label per train feature, shape ({len(train_features)},), got '
            f'{tuple(train_labels.shape)}.'
        )
    if train_labels.dtype.is_floating_point or train_labels.dtype == torch.bool:
        raise ValueError(f'Train labels must be class indices (an integer tensor), got dtype {train_labels.dtype}.')
    if num_classes < 1:
        raise ValueError(f'num_classes must be >= 1, got {num_classes}.')
    if len(train_labels) and (train_labels.min() < 0 or train_labels.max() >= num_classes):
        raise ValueError(
            f'Train labels must lie in [0, num_classes = {num_classes}), got [{train_labels.min().item()}, '
            f'{train_labels.max().item()}]: pass the number of classes of the data set.'
        )
    if not 1 <= k <= len(train_features):
        raise ValueError(
            f'k must be in [1, N = {len(train_features)}] (the number of train features), got {k}: lower k or use '
            'more train images.'
        )
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}.')
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}.')


@torch.no_grad()
def knn_predict(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> torch.Tensor:
    """Class scores of the weighted kNN classifier for every test feature.

    Computed on the train features' device in float32, ``chunk_size`` test features at a time, so that the
    similarities held at once are (chunk_size, N). Of neighbours tied at the k-th similarity, ``torch.topk`` picks
    which are kept.

    Args:
        train_features: (N, D), any scale (L2-normalised here).
        train_labels: (N,) class indices in [0, C).
        test_features: (M, D).
        num_classes: C.
        k: number of neighbours, 1 <= k <= N (20 in DINO and InstDisc).
        temperature: T of the weights exp(s / T) (0.07).
        chunk_size: test features per similarity block.

    Returns:
        scores (M, C) float32: for each test feature and class, the sum of exp(s / T) over its k nearest train
        features of that class.
    """
    _check_inputs(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    device = train_features.device
    train = F.normalize(train_features.float(), dim=1)
    labels = train_labels.to(device=device, dtype=torch.long)
    scores = []
    for chunk in test_features.split(chunk_size):
        similarity = F.normalize(chunk.to(device).float(), dim=1) @ train.T  # (m, N)
        top_similarity, top_index = similarity.topk(k, dim=1)  # (m, k)
        weights = (top_similarity / temperature).exp()
        chunk_scores = torch.zeros(len(chunk), num_classes, device=device)
        scores.append(chunk_scores.scatter_add_(1, labels[top_index], weights))
    return torch.cat(scores) if scores else torch.zeros(0, num_classes, device=device)


def knn_top1(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    num_classes: int | None = None,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> float:
    """Top-1 accuracy (percent) of the weighted kNN classifier (:func:`knn_predict`) on labelled test features.

    The prediction is the argmax of the class scores (the lowest class index on ties).

    Args:
        test_labels: (M,) class indices, M >= 1.
        num_classes: C; defaults to max(labels) + 1 over train and test.
        others: see :func:`knn_predict`.
    """
    if test_labels.shape != test_features.shape[:1] or len(test_labels) == 0:
        raise ValueError(
            f'Expected one test label per test feature (at least one), shape ({len(test_features)},), got '
            f'{tuple(test_labels.shape)}.'
        )
    if num_classes is None:
        num_classes = int(torch.cat([train_labels.flatten().cpu(), test_labels.cpu()]).max()) + 1
    scores = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    hits = scores.argmax(dim=1) == test_labels.to(scores.device)
    return hits.float().mean().item() * 100


__all__ = ['knn_predict', 'knn_top1']
