"""Evaluation of pre-trained encoders: feature extraction, the 1 % few-shot logistic regression, probe metrics."""

from .feature_extraction import extract_features, feature_cache_key
from .feature_preprocessing import CENTERINGS, prepare_features
from .fewshot import DEFAULT_LAMBDAS, evaluate, sweep_lambdas, topk_accuracy
from .knn import knn_predict, knn_top1
from .logistic_regression import (
    LogisticRegressionResult,
    fit_logistic_regression,
    l2_from_lambda0,
    logistic_objective,
    objective_gradient,
    sklearn_c_from_l2,
)
from .multi_head_accuracy import MultiHeadAccuracy

__all__ = [
    'CENTERINGS',
    'DEFAULT_LAMBDAS',
    'LogisticRegressionResult',
    'MultiHeadAccuracy',
    'evaluate',
    'extract_features',
    'feature_cache_key',
    'fit_logistic_regression',
    'knn_predict',
    'knn_top1',
    'l2_from_lambda0',
    'logistic_objective',
    'objective_gradient',
    'prepare_features',
    'sklearn_c_from_l2',
    'sweep_lambdas',
    'topk_accuracy',
]
