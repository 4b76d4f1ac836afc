"""The lambda sweep of the few-shot evaluation (lgp.evaluation.fewshot): every lambda reported, with the original's
penalty scaling lambda_0 / n, and the best chosen by val top-1."""

import pytest

from lgp.evaluation import prepare_features, sweep_lambdas


def test_sweep_reports_every_lambda_and_the_best(gaussian_classes) -> None:
    x_train, y_train, _ = gaussian_classes(5, scale=1.0, seed=4)
    x_val, y_val, _ = gaussian_classes(100, scale=1.0, seed=5)
    train, val = prepare_features(x_train, x_val)
    sweep = sweep_lambdas(train, y_train, val, y_val, lambdas=[1e-3, 1.0, 100.0])
    assert [r['lambda0'] for r in sweep['results']] == [1e-3, 1.0, 100.0]
    assert [r['l2'] for r in sweep['results']] == pytest.approx([1e-3 / 15, 1 / 15, 100 / 15])
    assert sweep['best'] == max(sweep['results'], key=lambda r: r['top1'])
    assert all(0 <= r['top1'] <= r['top5'] <= 100 for r in sweep['results'])
