"""The training loss and the kNN monitor's top-1 of pre-training runs, a panel per run."""

import json
import math
from collections.abc import Mapping
from pathlib import Path

from ..engine.hooks.knn_monitor_hook import KNN_SCALAR


def read_scalars(work_dir: str | Path) -> list[dict]:
    """Every record an mmengine run in ``work_dir`` logged (``*/vis_data/scalars.json``, a resumed run's folders in
    order)."""
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'No */vis_data/scalars.json in {work_dir}: is it the work_dir of a training run?')
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


def plot_training_curves(runs: Mapping[str, str | Path], path: str | Path, columns: int = 3) -> Path:
    """A panel per run: its training loss per iteration and, on a second axis, its kNN top-1 on val (``knn/top1``,
    when the run had the monitor), in one PNG.

    Args:
        runs: label -> the run's work_dir.
        path: the PNG to write.
        columns: panels a row.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError('No runs to plot.')
    columns = min(columns, len(runs))
    rows = math.ceil(len(runs) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(runs) :]:
        ax.set_axis_off()
    for ax, (label, work_dir) in zip(axes.flat, runs.items(), strict=False):
        records = read_scalars(work_dir)
        losses = [r for r in records if 'loss' in r]
        ax.plot([r['iter'] for r in losses], [r['loss'] for r in losses], color='tab:blue')
        ax.set_title(label, fontsize=10)
        ax.set_xlabel('iteration')
        ax.set_ylabel('loss', color='tab:blue')
        knn = [r for r in records if KNN_SCALAR in r]
        if knn:
            top1 = ax.twinx()
            top1.plot([r['step'] for r in knn], [r[KNN_SCALAR] for r in knn], color='tab:red', marker='o')
            top1.set_ylabel('kNN top-1 on val (%)', color='tab:red')
            top1.set_ylim(0, 100)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ['plot_training_curves', 'read_scalars']
