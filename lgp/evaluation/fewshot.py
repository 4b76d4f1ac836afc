"""The 1 % few-shot protocol on extracted features: top-k accuracy of a linear classifier and a lambda sweep.

Symbols: lambda_0 the original code's regularisation flag (``--lambd``, 2.5e-4), n the number of training features,
lambda = lambda_0 / n the penalty of :func:`lgp.evaluation.fit_logistic_regression`.
"""

from collections.abc import Sequence
from typing import Any

import torch

from ..utils import track
from .logistic_regression import LogisticRegressionResult, fit_logistic_regression, l2_from_lambda0

DEFAULT_LAMBDAS = (2.5e-5, 2.5e-4, 2.5e-3)  # lambda_0 values; the original uses 2.5e-4


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, topk: Sequence[int] = (1, 5)) -> dict[str, float]:
    """``{'top1': ..., 'top5': ...}`` in percent; k larger than the number of classes counts every class."""
    if len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f'Expected as many logits as labels (> 0), got {len(logits)} and {len(labels)}.')
    maxk = min(max(topk), logits.shape[1])
    hits = logits.topk(maxk, dim=1).indices == labels.to(logits.device).view(-1, 1)
    return {f'top{k}': hits[:, : min(k, maxk)].any(dim=1).float().mean().item() * 100 for k in topk}


def evaluate(
    classifier: LogisticRegressionResult | torch.Tensor,
    features: torch.Tensor,
    labels: torch.Tensor,
    topk: Sequence[int] = (1, 5),
) -> dict[str, float]:
    """Top-k accuracy (percent) of a linear classifier W (C, D) (or a fitted result) on features (N, D)."""
    weight = classifier.weight if isinstance(classifier, LogisticRegressionResult) else classifier
    return topk_accuracy(features @ weight.to(features).T, labels, topk)


def sweep_lambdas(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    val_features: torch.Tensor,
    val_labels: torch.Tensor,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    num_classes: int | None = None,
    **fit_kwargs: Any,
) -> dict[str, Any]:
    """Fit one classifier per lambda_0 (penalty lambda = lambda_0 / n) and evaluate each on the val features.

    The best is the highest val top-1 (the earliest lambda_0 on ties), as the original reports it. The progress is
    shown a step per lambda_0 (:func:`lgp.utils.track`).

    Args:
        lambdas: lambda_0 values, the original code's scale.
        num_classes: C; defaults to max(labels) + 1 over train and val.
        **fit_kwargs: passed to :func:`lgp.evaluation.fit_logistic_regression` (``solver``, ``max_iter``, ``tol``).

    Returns:
        ``{'results': [...], 'best': {...}}``, each entry ``dict(lambda0, l2, top1, top5, n_iter, converged)``.
    """
    if not lambdas:
        raise ValueError('Give at least one lambda.')
    if num_classes is None:
        num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    results = []
    for lambda0 in track(lambdas, f'lambda_0 sweep ({len(train_labels)} training features)'):
        l2 = l2_from_lambda0(lambda0, len(train_labels))
        fit = fit_logistic_regression(train_features, train_labels, l2, num_classes=num_classes, **fit_kwargs)
        results.append(
            dict(
                lambda0=float(lambda0),
                l2=l2,
                **evaluate(fit, val_features, val_labels),
                n_iter=fit.n_iter,
                converged=fit.converged,
            )
        )
    best = max(results, key=lambda r: r['top1'])  # max returns the first of equal maxima
    return {'results': results, 'best': best}


__all__ = ['DEFAULT_LAMBDAS', 'evaluate', 'sweep_lambdas', 'topk_accuracy']
