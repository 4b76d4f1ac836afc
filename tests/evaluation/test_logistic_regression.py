"""The multinomial logistic regression of the few-shot evaluation (lgp.evaluation.logistic_regression): its optimum
against scikit-learn's, first-order optimality, the original's penalty scaling, and cyanure when installed."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from lgp.evaluation import (
    fit_logistic_regression,
    l2_from_lambda0,
    logistic_objective,
    objective_gradient,
    sklearn_c_from_l2,
)


def test_solver_optimum_matches_scikit_learn(gaussian_classes) -> None:
    x, y, _ = gaussian_classes(50, scale=1.5, seed=2)  # overlapping classes: a well-conditioned optimum
    x = x.double()
    l2 = 1e-2
    fit = fit_logistic_regression(x, y, l2)
    assert objective_gradient(fit.weight, x, y, l2).abs().max() < 1e-8  # first-order optimality
    noise = 1e-3 * torch.randn(fit.weight.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert logistic_objective(fit.weight + noise, x, y, l2) > logistic_objective(fit.weight, x, y, l2)
    sklearn = LogisticRegression(C=sklearn_c_from_l2(l2, len(y)), fit_intercept=False, tol=1e-12, max_iter=10_000)
    sklearn.fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(sklearn.coef_, fit.weight.numpy(), atol=1e-4)
    # the original's lambda = 2.5e-4 / n is scikit-learn's C = 1 / 2.5e-4 whatever n
    assert sklearn_c_from_l2(l2_from_lambda0(2.5e-4, 12_811), 12_811) == pytest.approx(4000)


def test_cyanure_solves_the_same_objective(gaussian_classes) -> None:
    pytest.importorskip('cyanure')
    x, y, _ = gaussian_classes(50, scale=1.5, seed=3)
    x = x.double()
    reference = fit_logistic_regression(x, y, 1e-2)
    cyanure = fit_logistic_regression(x, y, 1e-2, solver='cyanure', tol=1e-8, max_iter=1000)
    torch.testing.assert_close(cyanure.weight, reference.weight, atol=1e-3, rtol=0)
    assert cyanure.grad_max < 1e-4
