"""The whole method end to end on scikit-learn's digits, a miniature of the paper's Table 1, on a CPU in minutes.

    python tools/demo.py [--work-dir work_dirs/demo] [--data data/digits] [--seed 0]

1. writes the digits as an ImageNet-style folder with 1 % and 10 % split files (if not there yet);
2. pre-trains the nano LGPViT three ways, three rows of the study (configs/study/): MAE (MIM), MoCo v3 (CL) from
   scratch, and Layer Grafted Pre-training (MoCo v3 continued from the MAE weights, lower blocks at 0.1x);
3. evaluates each frozen encoder (CLS token after the final norm, test transform): a linear classifier on the
   features of all training images ("linear"), and the few-shot protocol on the 1 % and 10 % splits: features
   centred and L2-normalised, multinomial logistic regression with an L2 penalty, lambda swept, top-1 on val;
4. prints the table, writes it as ``results.md`` (and ``results.json``), and draws what each encoder learnt:
   ``training_curves.png`` (the loss and the kNN monitor's top-1 of each run), ``reconstructions.png`` (the MAE run's
   reconstructions of val digits), ``attention_maps.png`` (the CLS token's last-block attention per head, and the
   attention rollout, of the three encoders) and ``tsne.png`` (t-SNE of the three encoders' val features).

The whole study (every Table 1 row over seeds, fine-tuning, Figure 1, attention distance, lr search) is
``tools/study.py``.

The "linear" column fits the same logistic regression on all labelled features: at this scale a convex fit on cached
features stands in for the SGD probe of configs/benchmarks/linear_*.py, which trains the same BN + linear head.
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from lgp.datasets import write_digits_imagenet
from lgp.engine import load_config
from lgp.evaluation.frozen_encoder import VAL, fewshot_top1, frozen_features
from lgp.visualization import (
    build_encoder,
    build_model,
    encoder_attention,
    first_images,
    mae_reconstruction,
    normalise,
    plot_attention_maps,
    plot_reconstructions,
    plot_training_curves,
    plot_tsne,
    to_pixels,
)

REPO = Path(__file__).resolve().parents[1]
# (name in the table, run folder, config, the run whose weights it starts from)
RUNS = (
    ('MIM (MAE)', 'mae', 'configs/study/mae_vit_nano_digits.py', None),
    ('CL (MoCo v3)', 'mocov3', 'configs/study/mocov3_vit_nano_digits.py', None),
    ('Layer Grafted (MIM -> CL)', 'grafted', 'configs/study/grafted_vit_nano_digits.py', 'mae'),
)
FIGURES = ('training_curves', 'reconstructions', 'attention_maps', 'tsne')
EVAL_CONFIG = 'configs/benchmarks/linear_lgp-vit-nano_digits.py'  # the frozen encoder and its test transform
SPLITS = {
    'linear': 'meta/train.txt',
    '1% few-shot': 'meta/train_1percent.txt',
    '10% few-shot': 'meta/train_10percent.txt',
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Layer Grafted Pre-training end to end on the digits (CPU)')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='runs, features and the results go here')
    parser.add_argument('--data', default='data/digits', help='the digits folder (written if missing)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the data split and of every run')
    return parser.parse_args()


def log(message: str) -> None:
    print(f'[demo {time.strftime("%H:%M:%S")}] {message}', flush=True)


def pretrain(config: str, work_dir: Path, data: Path, seed: int, init: Path | None) -> Path:
    """Run ``tools/train.py`` on a demo config, echoing its training-progress lines; the final checkpoint."""
    options = [f'train_dataloader.dataset.data_root={data}', f'randomness.seed={seed}']
    if init is not None:
        options.append(f'model.step1.checkpoint={init}')
    command = [sys.executable, str(REPO / 'tools/train.py'), config, '--work-dir', str(work_dir), '--cfg-options']
    process = subprocess.Popen(
        [*command, *options], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail = []
    for line in process.stdout:
        tail = (tail + [line])[-40:]
        if 'Epoch(train)' in line:
            print(
                '    ' + line.split(' - INFO - ')[-1].split('  time:')[0] + '  ' + line.split('  ')[-1].strip(),
                flush=True,
            )
    if process.wait() != 0:
        raise RuntimeError(f'{config} failed:\n{"".join(tail)}')
    return max(work_dir.glob('epoch_*.pth'), key=lambda p: int(p.stem.split('_')[1]))


def eval_config(data: Path):
    """The frozen-encoder config with its val and test images in ``data``."""
    return load_config(EVAL_CONFIG, {f'{s}_dataloader.dataset.data_root': str(data) for s in ('val', 'test')})


def evaluate(checkpoint: Path, data: Path, cache_dir: Path) -> tuple[dict[str, dict], tuple[torch.Tensor, ...]]:
    """Top-1 on val of the logistic regression fitted on each split's frozen features (the best lambda of the
    sweep), and the val features (N, D) with their labels (N,)."""
    split_files = {name: data / split for name, split in SPLITS.items()}
    features = frozen_features(eval_config(data), checkpoint, split_files, cache_dir)
    top1 = {name: sweep['best'] for name, sweep in fewshot_top1(features, num_classes=10).items()}
    return top1, features[VAL]


def table(results: dict[str, dict[str, dict]]) -> str:
    header = '| method | ' + ' | '.join(f'{s} top-1' for s in SPLITS) + ' |'
    rows = [header, '|' + '---|' * (len(SPLITS) + 1)]
    for method, by_split in results.items():
        rows.append(f'| {method} | ' + ' | '.join(f'{by_split[s]["top1"]:.1f}' for s in SPLITS) + ' |')
    return '\n'.join(rows)


def draw_encoders(runs: dict[str, tuple[str, Path]], features: dict, data: Path, work_dir: Path, seed: int) -> None:
    """reconstructions.png (the MAE run), attention_maps.png and tsne.png (every run) in ``work_dir``.

    Args:
        runs: method -> (its config, its checkpoint), the MAE run first.
        features: method -> its val features (N, D) and labels (N,).
    """
    batches = first_images(eval_config(data), EVAL_CONFIG, num_images=4)
    (mae_config, mae_checkpoint), *_ = runs.values()
    mae = build_model(mae_config, str(mae_checkpoint))
    plot_reconstructions(
        mae_reconstruction(mae, normalise(batches, mae.data_preprocessor), seed=seed), work_dir / 'reconstructions.png'
    )
    groups = []
    for method, (config, checkpoint) in runs.items():
        backbone, preprocessor = build_encoder(config, str(checkpoint), seed)
        images = normalise(batches, preprocessor)
        groups.append(encoder_attention(method, backbone, images, to_pixels(images, preprocessor), rollout=True))
    plot_attention_maps(groups, work_dir / 'attention_maps.png')
    (_, labels), *_ = features.values()
    plot_tsne({method: x for method, (x, _) in features.items()}, labels, work_dir / 'tsne.png', seed=seed)


def main() -> None:
    args = parse_args()
    work_dir, data = Path(args.work_dir).resolve(), Path(args.data).resolve()
    start = time.time()
    if not (data / 'meta' / 'train_1percent.txt').is_file():
        log(f'writing the digits to {data}: {write_digits_imagenet(data, seed=args.seed)}')
    checkpoints, run_dirs = {}, {}
    for method, key, config, init in RUNS:
        log(f'pre-training {method} ({config})')
        run_dirs[method] = work_dir / key
        checkpoints[key] = pretrain(config, run_dirs[method], data, args.seed, checkpoints.get(init))
    results, val_features = {}, {}
    for method, key, _, _ in RUNS:
        log(f'evaluating {method}: features of the frozen encoder, logistic regression on each split')
        results[method], val_features[method] = evaluate(checkpoints[key], data, work_dir / 'features' / key)
    log('drawing the training curves, MAE reconstructions, attention maps and t-SNE of the val features')
    plot_training_curves(run_dirs, work_dir / 'training_curves.png')
    runs = {method: (config, checkpoints[key]) for method, key, config, _ in RUNS}
    draw_encoders(runs, val_features, data, work_dir, args.seed)
    text = table(results)
    minutes = (time.time() - start) / 60
    num_val = len((data / 'meta' / 'val.txt').read_text().splitlines())
    note = (
        f'Digits (scikit-learn), nano LGPViT, seed {args.seed}; top-1 (%) on the {num_val} val images; '
        f'{minutes:.1f} min on this machine.'
    )
    (work_dir / 'results.md').write_text(f'{note}\n\n{text}\n')
    (work_dir / 'results.json').write_text(json.dumps(results, indent=1))
    print(f'\n{note}\n\n{text}\n')
    figures = ', '.join(f'{name}.png' for name in FIGURES)
    log(f'wrote {work_dir / "results.md"}, results.json and {figures}')


if __name__ == '__main__':
    main()
