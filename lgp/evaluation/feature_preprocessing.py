"""Centring and L2 normalisation of features before the few-shot logistic regression.

Symbols: x_i in R^D a feature, mu the mean of the training features.
"""

import torch
import torch.nn.functional as F

CENTERINGS = ('sample', 'train_mean', 'none')


def prepare_features(
    train: torch.Tensor, val: torch.Tensor, centering: str = 'sample'
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre, then L2-normalise each feature: x_i <- (x_i - c) / ||x_i - c||.

    Args:
        train: training features (N_train, D).
        val: evaluation features (N_val, D).
        centering: what c is.

            - ``sample``: c = mean_d x_{i,d}, each feature's own mean over its D dims: what the original code does
              (``cyanure.preprocess(X, centering=True, normalize=True, columns=False)``, rows = samples).
            - ``train_mean``: c = mu, the mean of the TRAIN features, for both sets (a departure from the original,
              docs/recipes.md).
            - ``none``: only normalise.

    Returns:
        The prepared (train, val), same dtypes as given.
    """
    if centering not in CENTERINGS:
        raise ValueError(f'centering must be one of {CENTERINGS}, got {centering!r}.')
    if train.dim() != 2 or val.dim() != 2 or train.shape[1] != val.shape[1]:
        raise ValueError(f'Expected (N, D) features of equal D, got {tuple(train.shape)} and {tuple(val.shape)}.')
    if centering == 'train_mean':
        mu = train.mean(dim=0, keepdim=True)
        train, val = train - mu, val - mu
    elif centering == 'sample':
        train = train - train.mean(dim=1, keepdim=True)
        val = val - val.mean(dim=1, keepdim=True)
    return F.normalize(train, dim=1), F.normalize(val, dim=1)


__all__ = ['CENTERINGS', 'prepare_features']
