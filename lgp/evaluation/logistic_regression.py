"""Multinomial logistic regression with an L2 penalty and no intercept: the 1 % few-shot classifier.

Objective, for n training features x_i in R^D with labels y_i in {0..C-1} and weights W in R^{C x D}:

    F(W) = (1/n) sum_i CE(W x_i, y_i) + (lambda / 2) ||W||_F^2,    CE(z, y) = log sum_c exp(z_c) - z_y.

``l2`` below is this lambda. The same objective, written by the other solvers:

- cyanure (``Classifier(loss='multiclass-logistic', penalty='l2', fit_intercept=False)``): (1/n) sum loss +
  (lambda_1 / 2) ||w||^2, so ``lambda_1 = lambda``.
- scikit-learn (``LogisticRegression(C=C, fit_intercept=False)``, multinomial for C > 2 classes): C sum_i CE +
  (1/2) ||W||^2 = n C F(W), so ``C = 1 / (n * lambda)``.
- The original code (``cyanure.MultiClassifier.fit(lambd=lambda_0 / n)``, ``lambda_0 = 2.5e-4``): lambda =
  lambda_0 / n, hence sklearn's C = 1 / lambda_0 = 4000 whatever n. See :func:`l2_from_lambda0`.

F is smooth and strictly convex for lambda > 0; the default solver minimises it with full-batch L-BFGS (strong
Wolfe line search) in float64 until the largest gradient entry is below ``tol``.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

SOLVERS = ('lbfgs', 'cyanure')
DEFAULT_MAX_ITER = {'lbfgs': 1000, 'cyanure': 300}  # L-BFGS iterations / cyanure epochs (the original's 300)
DEFAULT_TOL = {'lbfgs': 1e-9, 'cyanure': 1e-3}  # max |grad F| / cyanure's relative duality gap (the original's)


@dataclass
class LogisticRegressionResult:
    """The fitted W (C, D) and how the solver ended."""

    weight: torch.Tensor
    l2: float
    solver: str
    n_iter: int
    max_iter: int
    tol: float
    grad_max: float

    @property
    def converged(self) -> bool:
        """L-BFGS: max |dF/dW| <= tol; cyanure: stopped before ``max_iter`` (its duality gap reached ``tol``)."""
        return self.grad_max <= self.tol if self.solver == 'lbfgs' else self.n_iter < self.max_iter

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Scores z = x W^T, (N, C), in the features' dtype."""
        return features @ self.weight.to(features).T


def l2_from_lambda0(lambda0: float, num_train: int) -> float:
    """The original code's scaling: lambda = lambda_0 / n (cyanure's ``lambd``)."""
    return lambda0 / num_train


def sklearn_c_from_l2(l2: float, num_train: int) -> float:
    """scikit-learn's C for the same objective: C = 1 / (n * lambda)."""
    return 1.0 / (num_train * l2)


def logistic_objective(weight: torch.Tensor, features: torch.Tensor, labels: torch.Tensor, l2: float) -> torch.Tensor:
    """F(W) = mean_i CE(W x_i, y_i) + (lambda / 2) ||W||_F^2 (see the module docstring)."""
    return F.cross_entropy(features @ weight.T, labels) + 0.5 * l2 * weight.pow(2).sum()


def _check_inputs(features: torch.Tensor, labels: torch.Tensor, l2: float, num_classes: int | None) -> int:
    if features.dim() != 2 or labels.dim() != 1 or len(features) != len(labels) or len(labels) == 0:
        raise ValueError(
            f'Expected features (N, D) and labels (N,), got {tuple(features.shape)} and {tuple(labels.shape)}.'
        )
    if not l2 > 0:
        raise ValueError(f'l2 (lambda) must be > 0 (the objective is then strictly convex), got {l2}.')
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'Labels must be in [0, {num_classes}), got [{int(labels.min())}, {int(labels.max())}].')
    return num_classes


def _fit_lbfgs(
    features: torch.Tensor, labels: torch.Tensor, l2: float, num_classes: int, max_iter: int, tol: float, dtype
) -> tuple[torch.Tensor, int]:
    """Full-batch L-BFGS on F from W = 0; returns W and the number of iterations."""
    x, y = features.to(dtype), labels.to(features.device)
    weight = torch.zeros(num_classes, x.shape[1], dtype=dtype, device=x.device, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight],
        lr=1.0,
        max_iter=max_iter,
        max_eval=max_iter * 2,
        tolerance_grad=tol,
        tolerance_change=0.0,
        history_size=20,
        line_search_fn='strong_wolfe',
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = logistic_objective(weight, x, y, l2)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    n_iter = optimizer.state[weight].get('n_iter', 0)
    return weight.detach(), int(n_iter)


def _fit_cyanure(
    features: torch.Tensor, labels: torch.Tensor, l2: float, num_classes: int, max_iter: int, tol: float
) -> tuple[torch.Tensor, int]:
    """cyanure's multinomial classifier on the same objective (lambda_1 = lambda); W is (C, D).

    Single-threaded: cyanure bundles its own OpenMP runtime, and after a multi-threaded cyanure fit PyTorch's
    backward passes in the same process were seen to spin without end.
    """
    from cyanure.estimators import Classifier

    present = torch.unique(labels)
    if len(present) != num_classes:
        raise ValueError(f'cyanure needs every class in the training set; {len(present)} of {num_classes} present.')
    classifier = Classifier(
        loss='multiclass-logistic',
        penalty='l2',
        lambda_1=l2,
        fit_intercept=False,
        max_iter=max_iter,
        tol=tol,
        solver='auto',
        verbose=False,
        random_state=0,
        n_threads=1,
    )
    classifier.fit(np.ascontiguousarray(features.double().cpu().numpy()), labels.cpu().numpy())
    weight = torch.from_numpy(np.asarray(classifier.coef_, dtype=np.float64)).T.contiguous()
    return weight.to(features.device), int(np.max(classifier.n_iter_))


def fit_logistic_regression(
    features: torch.Tensor,
    labels: torch.Tensor,
    l2: float,
    num_classes: int | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
    solver: str = 'lbfgs',
    dtype: torch.dtype = torch.float64,
) -> LogisticRegressionResult:
    """Minimise F(W) (module docstring) over W in R^{C x D}.

    Args:
        features: (N, D), e.g. from :func:`lgp.evaluation.prepare_features`; their device is the solver's.
        labels: (N,) in [0, C).
        l2: lambda, the penalty of the mean-loss objective (cyanure's ``lambda_1``; sklearn's C = 1 / (n lambda);
            the original's lambda_0 = 2.5e-4 gives ``l2 = 2.5e-4 / n``, see :func:`l2_from_lambda0`).
        num_classes: C; defaults to max(labels) + 1.
        max_iter: L-BFGS iterations (default 1000) or cyanure epochs (default 300, the original's).
        tol: L-BFGS stops when max |dF/dW| <= tol (default 1e-9); cyanure's relative duality gap (default 1e-3).
        solver: ``lbfgs`` (PyTorch) or ``cyanure`` (needs the optional ``cyanure`` package).
        dtype: of the L-BFGS computation (float64 default; float32 needs a larger ``tol``).

    Returns:
        W (C, D) in float64 (lbfgs: ``dtype``), the solver's iteration count and max |dF/dW| at W.
    """
    if solver not in SOLVERS:
        raise ValueError(f'solver must be one of {SOLVERS}, got {solver!r}.')
    num_classes = _check_inputs(features, labels, l2, num_classes)
    max_iter = DEFAULT_MAX_ITER[solver] if max_iter is None else max_iter
    tol = DEFAULT_TOL[solver] if tol is None else tol
    if solver == 'cyanure':
        weight, n_iter = _fit_cyanure(features, labels, l2, num_classes, max_iter, tol)
    else:
        weight, n_iter = _fit_lbfgs(features, labels, l2, num_classes, max_iter, tol, dtype)
    grad_max = objective_gradient(weight, features, labels, l2).abs().max().item()
    return LogisticRegressionResult(weight, l2, solver, n_iter, max_iter, tol, grad_max)


def objective_gradient(weight: torch.Tensor, features: torch.Tensor, labels: torch.Tensor, l2: float) -> torch.Tensor:
    """dF/dW at ``weight`` (C, D), computed in the weight's dtype: zero at the optimum."""
    weight = weight.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logistic_objective(weight, features.to(weight), labels.to(weight.device), l2).backward()
    return weight.grad


__all__ = [
    'DEFAULT_MAX_ITER',
    'DEFAULT_TOL',
    'SOLVERS',
    'LogisticRegressionResult',
    'fit_logistic_regression',
    'l2_from_lambda0',
    'logistic_objective',
    'objective_gradient',
    'sklearn_c_from_l2',
]
