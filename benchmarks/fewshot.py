"""Time of the 1 % few-shot logistic regression: lgp's solver against scikit-learn's LogisticRegression.

The problem is ImageNet-1 % sized: n = 12,811 training features of D = 768 dims (ViT-B's CLS token) in C = 1000
classes (12-13 per class, as the 1 % split), plus 10,000 validation features; synthetic, drawn around random
class means, then centred on the training mean and L2-normalised as ``tools/fewshot_eval.py`` does. Each solver
minimises the same objective (see :mod:`lgp.evaluation.logistic_regression`):

    F(W) = (1/n) sum_i CE(W x_i, y_i) + (lambda / 2) ||W||_F^2,   lambda = lambda_0 / n  (lambda_0 = 2.5e-4)

* lgp: :func:`lgp.evaluation.fit_logistic_regression`, full-batch L-BFGS in float64 (PyTorch), on the CPU and on
  the GPU when there is one (``tools/fewshot_eval.py`` runs it on the features' device);
* scikit-learn: ``LogisticRegression(C=1 / (n lambda), fit_intercept=False, solver='lbfgs')``, multinomial
  (scipy's L-BFGS-B, float64);
* with ``--cyanure``: cyanure (the original code's solver, single-threaded in lgp's wrapper; its ``tol`` is a
  relative duality gap, so its stopping point is not the others').

lgp and scikit-learn stop on the same criterion, max |dF/dW| <= ``--tol`` (scikit-learn's ``tol`` is scipy's
``gtol`` on the gradient of this mean objective), or after ``--max-iter`` iterations. The table gives the time of a
fit (median of ``--repeats``), the iterations, how far F(W) is above the lowest F any solver reached, the final
max |dF/dW| and the top-1 accuracies, so that a fast fit is seen to be an equally good one; **time ratio** is lgp's
time over scikit-learn's.

    python benchmarks/fewshot.py                 # the ImageNet-1 % size (under a minute on 2 CPU cores)
    python benchmarks/fewshot.py --quick         # 1,000 x 768, 100 classes (seconds)
"""

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_header import print_run_header  # noqa: E402

from lgp.evaluation import (  # noqa: E402
    evaluate,
    fit_logistic_regression,
    l2_from_lambda0,
    logistic_objective,
    objective_gradient,
    prepare_features,
    sklearn_c_from_l2,
)


@dataclass
class Fit:
    """One solver's result on the problem."""

    solver: str
    device: str
    times: list[float]
    n_iter: int
    weight: torch.Tensor  # W (C, D), float64 on the CPU


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='1,000 x 768 features, 100 classes')
    parser.add_argument('--train', type=int, default=12_811, help='n, training features (ImageNet 1 %%: 12,811)')
    parser.add_argument('--val', type=int, default=10_000, help='validation features')
    parser.add_argument('--dims', type=int, default=768, help='D (ViT-B: 768)')
    parser.add_argument('--classes', type=int, default=1000, help='C')
    parser.add_argument('--noise', type=float, default=4.0, help='feature noise around the class means')
    parser.add_argument('--lambda0', type=float, default=2.5e-4, help='lambda = lambda_0 / n (the original: 2.5e-4)')
    parser.add_argument('--tol', type=float, default=1e-9, help='stop when max |dF/dW| <= tol (both solvers)')
    parser.add_argument('--max-iter', type=int, default=1000, help='L-BFGS iterations (both solvers)')
    parser.add_argument('--repeats', type=int, default=1, help='fits per solver (the median time is reported)')
    parser.add_argument('--no-gpu', action='store_true', help='skip the GPU fit even when a GPU is present')
    parser.add_argument('--cyanure', action='store_true', help='also time cyanure (needs the optional package)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.train, args.val, args.classes = 1000, 1000, 100
    return args


def synthetic_features(
    num_train: int, num_val: int, dims: int, classes: int, noise: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class-balanced features x = mu_y + noise * z / sqrt(D), |mu_y| ~ 1, prepared as the few-shot tool does.

    Returns:
        train (n, D), train labels (n,), val (N_val, D), val labels (N_val,); features float64, centred on the
        training mean and L2-normalised.
    """
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, dims, generator=g, dtype=torch.float64) / dims**0.5

    def draw(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(count) % classes
        features = means[labels] + noise * torch.randn(count, dims, generator=g, dtype=torch.float64) / dims**0.5
        return features, labels

    (train, train_labels), (val, val_labels) = draw(num_train), draw(num_val)
    train, val = prepare_features(train, val)
    return train, train_labels, val, val_labels


def timed(fit: Callable[[], tuple[torch.Tensor, int]], repeats: int, sync: Callable[[], None]) -> tuple[list, tuple]:
    """Run ``fit`` ``repeats`` times; its wall times and its last result."""
    times, result = [], None
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        result = fit()
        sync()
        times.append(time.perf_counter() - start)
    return times, result


def fit_lgp(
    x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace, classes: int, device: str = 'cpu', solver: str = 'lbfgs'
) -> Fit:
    """:func:`lgp.evaluation.fit_logistic_regression` on ``device`` (the features are moved there untimed).

    ``solver='cyanure'`` keeps cyanure's own stopping rule (a relative duality gap) and runs single-threaded.
    """
    x, y = x.to(device), y.to(device)
    l2 = l2_from_lambda0(args.lambda0, len(y))
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    options = dict(max_iter=args.max_iter, tol=args.tol) if solver == 'lbfgs' else {}

    def fit() -> tuple[torch.Tensor, int]:
        result = fit_logistic_regression(x, y, l2, classes, solver=solver, **options)
        return result.weight, result.n_iter

    times, (weight, n_iter) = timed(fit, args.repeats, sync)
    return Fit('lgp L-BFGS' if solver == 'lbfgs' else 'cyanure (1 thread)', device, times, n_iter, weight.cpu())


def fit_sklearn(x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> Fit:
    """scikit-learn's multinomial LogisticRegression (lbfgs) on the same objective."""
    c = sklearn_c_from_l2(l2_from_lambda0(args.lambda0, len(y)), len(y))
    x_np, y_np = x.numpy(), y.numpy()

    def fit() -> tuple[torch.Tensor, int]:
        model = LogisticRegression(C=c, fit_intercept=False, solver='lbfgs', tol=args.tol, max_iter=args.max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', ConvergenceWarning)  # reported in the table as iterations = max
            model.fit(x_np, y_np)
        return torch.from_numpy(model.coef_.astype(np.float64)), int(np.max(model.n_iter_))

    times, (weight, n_iter) = timed(fit, args.repeats, lambda: None)
    return Fit('scikit-learn lbfgs', 'cpu', times, n_iter, weight)


def format_table(fits: list[Fit], data: tuple, l2: float, reference: Fit) -> str:
    """The results as a markdown table (F* is the lowest objective any solver reached)."""
    x, y, x_val, y_val = data
    objectives = [logistic_objective(f.weight, x, y, l2).item() for f in fits]
    best = min(objectives)
    header = (
        '| solver | device | time s (median) | time ratio / scikit-learn | iterations | F(W) - F* | max abs dF/dW '
        '| train top-1 | val top-1 |'
    )
    lines = [header, '|' + '---|' * (header.count('|') - 1)]
    ref_time = statistics.median(reference.times)
    for f, objective in zip(fits, objectives, strict=True):
        t = statistics.median(f.times)
        grad = objective_gradient(f.weight, x, y, l2).abs().max().item()
        lines.append(
            f'| {f.solver} | {f.device} | {t:.2f} | {t / ref_time:.3f} | {f.n_iter} | {objective - best:.1e} '
            f'| {grad:.1e} | {evaluate(f.weight, x, y, (1,))["top1"]:.2f} '
            f'| {evaluate(f.weight, x_val, y_val, (1,))["top1"]:.2f} |'
        )
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print_run_header(argv, f'scikit-learn {sklearn.__version__}', f'numpy {np.__version__}')
    data = synthetic_features(args.train, args.val, args.dims, args.classes, args.noise, args.seed)
    x, y = data[0], data[1]
    l2 = l2_from_lambda0(args.lambda0, len(y))
    print(
        f'problem: n {len(y)} x D {args.dims}, C {args.classes}, {len(data[3])} val; lambda_0 {args.lambda0:g} '
        f'(lambda {l2:.3g}, scikit-learn C {sklearn_c_from_l2(l2, len(y)):g}); tol {args.tol:g}, '
        f'max_iter {args.max_iter}, {args.repeats} repeat(s)'
    )
    reference = fit_sklearn(x, y, args)
    fits = [fit_lgp(x, y, args, args.classes), reference]
    if torch.cuda.is_available() and not args.no_gpu:
        fits.insert(1, fit_lgp(x, y, args, args.classes, 'cuda'))
    if args.cyanure:
        fits.append(fit_lgp(x, y, args, args.classes, solver='cyanure'))
    print()
    print(format_table(fits, data, l2, reference))


if __name__ == '__main__':
    main()
