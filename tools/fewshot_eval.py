"""1 % few-shot evaluation: logistic regression on frozen features, for a sweep of lambdas.

``python tools/fewshot_eval.py CONFIG CHECKPOINT --split data/imagenet/meta/imagenet_1percent.txt``

CONFIG is a classification config (e.g. ``configs/benchmarks/linear_lgp-vit-b_8xb128-90e_in1k.py``): its
``model.backbone`` is the encoder, its ``data_preprocessor`` normalises the images, and its ``test_dataloader`` gives
the test-time transform and the evaluation set. The training features are the images listed in ``--split`` (a split
file, ``train/<wnid>/<file>.JPEG <label>``, paths relative to the test set's ``data_root``) seen through the same
test-time transform. CHECKPOINT (any layout lgp reads; the online encoder unless ``--encoder momentum``) is loaded
strictly into the backbone. Features are centred and L2-normalised (:func:`lgp.evaluation.prepare_features`), then
one multinomial logistic regression per lambda_0 is fitted with penalty lambda = lambda_0 / n_train (the original's
scaling: cyanure's ``lambda_1``, scikit-learn's C = 1 / lambda_0). A table of lambda_0 -> top-1 / top-5 is printed and
``fewshot_results.json`` written to the work dir.
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import json
import os.path as osp
from pathlib import Path

import torch
from mmengine.config import DictAction

from lgp.engine import load_config
from lgp.evaluation import CENTERINGS, DEFAULT_LAMBDAS, prepare_features, sweep_lambdas
from lgp.evaluation.frozen_encoder import frozen_features, resolve_split
from lgp.evaluation.logistic_regression import SOLVERS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='1 % few-shot evaluation by logistic regression on frozen features')
    parser.add_argument('config', help='classification config naming the backbone, its test transform and the val set')
    parser.add_argument('checkpoint', help='pre-training (or backbone) checkpoint loaded into the backbone')
    parser.add_argument(
        '--split', required=True, help='split file of the labelled training images (e.g. the 1 %% list)'
    )
    parser.add_argument(
        '--lambdas', type=float, nargs='+', default=list(DEFAULT_LAMBDAS), help='lambda_0 values (penalty lambda_0 / n)'
    )
    parser.add_argument('--solver', choices=SOLVERS, default='lbfgs', help='lbfgs (PyTorch) or cyanure (optional)')
    parser.add_argument('--max-iter', type=int, help='L-BFGS iterations (1000) or cyanure epochs (300)')
    parser.add_argument(
        '--centering',
        choices=CENTERINGS,
        default='sample',
        help="how features are centred: 'sample' as the original (each over its own dimensions), 'train_mean' "
        'subtracts the training mean (a departure, docs/recipes.md)',
    )
    parser.add_argument('--encoder', choices=['online', 'momentum'], default='online', help='encoder of the checkpoint')
    parser.add_argument('--cache-dir', help='cache the features here (reused only for identical inputs)')
    parser.add_argument('--work-dir', help='where fewshot_results.json goes (default: work_dirs/fewshot/<config>)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='device')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. test_dataloader.batch_size=64',
    )
    return parser.parse_args()


def format_table(sweep: dict) -> str:
    """The sweep as a text table, the best last."""
    rows = [('lambda_0', 'lambda', 'top-1', 'top-5', 'iters', 'converged')]
    for r in sweep['results']:
        rows.append(
            (
                f'{r["lambda0"]:.3g}',
                f'{r["l2"]:.3g}',
                f'{r["top1"]:.2f}',
                f'{r["top5"]:.2f}',
                str(r['n_iter']),
                'yes' if r['converged'] else 'no',
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ['  '.join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    best = sweep['best']
    lines.append(f'best: lambda_0 {best["lambda0"]:.3g}: top-1 {best["top1"]:.2f}, top-5 {best["top5"]:.2f}')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    if cfg.get('test_dataloader') is None:
        raise ValueError(f'{args.config} defines no test_dataloader: use a classification (transfer) config.')
    work_dir = Path(args.work_dir or osp.join('work_dirs', 'fewshot', osp.splitext(osp.basename(args.config))[0]))
    work_dir.mkdir(parents=True, exist_ok=True)

    split_file = resolve_split(args.split, cfg.test_dataloader.dataset.get('data_root', ''))
    features = frozen_features(cfg, args.checkpoint, {'train': split_file}, args.cache_dir, args.encoder, args.device)
    features, labels = {k: x for k, (x, _) in features.items()}, {k: y for k, (_, y) in features.items()}

    num_classes = cfg.model.head.get('num_classes')
    train_x, val_x = prepare_features(features['train'], features['val'], args.centering)
    sweep = sweep_lambdas(
        train_x.to(args.device),
        labels['train'].to(args.device),
        val_x.to(args.device),
        labels['val'].to(args.device),
        lambdas=args.lambdas,
        num_classes=num_classes,
        solver=args.solver,
        max_iter=args.max_iter,
    )
    print(
        f'1 % few-shot: {len(labels["train"])} training / {len(labels["val"])} val images, '
        f'{features["train"].shape[1]}-d features, centering {args.centering}, solver {args.solver}'
    )
    print(format_table(sweep))
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        split=str(split_file),
        num_train=len(labels['train']),
        num_val=len(labels['val']),
        centering=args.centering,
        solver=args.solver,
        **sweep,
    )
    out = work_dir / 'fewshot_results.json'
    out.write_text(json.dumps(result, indent=2))
    print(f'results written to {out}')


if __name__ == '__main__':
    main()
