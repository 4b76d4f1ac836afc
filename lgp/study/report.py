"""The study's report: Table 1 with mean +- std over seeds beside the paper's numbers, the images a class of every
split, how each row was made, Figure 1, the attention distance, the lr-search heat map, and the paper's five claims
checked against these numbers. Markdown (``report.md``) and JSON (``study.json``, every job's result).

A difference counts only when it exceeds the larger of the two standard deviations; smaller ones are reported as
within the spread.
"""

import json
import statistics
from pathlib import Path
from typing import Any

from mmengine.config import Config

from ..datasets import images_per_class
from ..engine.hooks.knn_monitor_hook import KNN_SCALAR
from ..visualization import plot_training_curves
from .plan import ATTENTION_DISTANCE, FIGURE1, FINETUNE, FROZEN_EVAL, PRETRAIN, StudyPlan, schedule_of


def cell(values: list[float]) -> dict[str, Any]:
    """``dict(values, mean, std, n)``; std is the sample standard deviation (0 for one value)."""
    return dict(
        values=values,
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else 0.0,
        n=len(values),
    )


def table(plan: StudyPlan, results: dict[str, dict], finetune_column: str) -> dict[str, dict[str, dict]]:
    """``{row key: {column: cell}}`` over the plan's seeds."""
    out = {}
    for row in plan.rows:
        by_column: dict[str, list[float]] = {c: [] for c in plan.columns}
        for seed in plan.seeds:
            frozen = results[f'{FROZEN_EVAL}/{row["key"]}/seed{seed}']
            for column, best in frozen.items():
                by_column[column].append(best['top1'])
            by_column[finetune_column].append(results[f'{FINETUNE}/{row["key"]}/seed{seed}']['top1'])
        out[row['key']] = {c: cell(v) for c, v in by_column.items()}
    return out


def compare(a: dict, b: dict) -> int:
    """1 if cell a is above b by more than the larger std, -1 if below by more, 0 within the spread."""
    margin = max(a['std'], b['std'])
    diff = a['mean'] - b['mean']
    return 0 if abs(diff) <= margin else (1 if diff > 0 else -1)


def _fmt(c: dict | None) -> str:
    if c is None:
        return '-'
    return f'{c["mean"]:.1f} ± {c["std"]:.1f}' if c['n'] > 1 else f'{c["mean"]:.1f}'


def lr_search_table(plan: StudyPlan, results: dict[str, dict]) -> list[dict]:
    """The grid cells with their top-1 per searched column."""
    return [
        dict(
            lower_blocks=c['lower_blocks'],
            lower_lr_mult=c['lower_lr_mult'],
            top1={k: v['top1'] for k, v in results[c['evaluation']].items()},
        )
        for c in plan.lr_grid
    ]


def lr_search_sentence(cells: list[dict], column: str) -> str:
    """Does a small multiplier (0 < m < 1) beat both freezing (0) and the full lr (1), per split point?"""
    parts = []
    for blocks in sorted({c['lower_blocks'] for c in cells}):
        line = {c['lower_lr_mult']: c['top1'][column] for c in cells if c['lower_blocks'] == blocks}
        if 0.0 not in line or 1.0 not in line:
            continue
        small = {m: v for m, v in line.items() if 0 < m < 1}
        best_m, best = max(small.items(), key=lambda kv: kv[1])
        verdict = 'beats both' if best > max(line[0.0], line[1.0]) else 'does not beat both'
        parts.append(
            f'lower {blocks} blocks: the best small multiplier ({best_m:g}x, {best:.1f}) {verdict} freezing '
            f'({line[0.0]:.1f}) and the full lr ({line[1.0]:.1f})'
        )
    return f'{column}, one seed: ' + '; '.join(parts) + '.'


def plot_lr_search(cells: list[dict], columns: list[str], path: Path) -> None:
    """A heat map per column: split point (rows) x lower blocks' lr multiplier (columns), top-1 written in."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    blocks = sorted({c['lower_blocks'] for c in cells})
    mults = sorted({c['lower_lr_mult'] for c in cells})
    fig, axes = plt.subplots(1, len(columns), figsize=(1.2 + 0.9 * len(mults) * len(columns), 1.2 + 0.6 * len(blocks)))
    axes = axes if len(columns) > 1 else [axes]
    for ax, column in zip(axes, columns, strict=True):
        grid = [[next(c['top1'][column] for c in cells if c['lower_blocks'] == b and c['lower_lr_mult'] == m)
                 for m in mults] for b in blocks]  # fmt: skip
        image = ax.imshow(grid, cmap='viridis', aspect='auto')
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                ax.text(j, i, f'{value:.1f}', ha='center', va='center', color='white', fontsize=8)
        ax.set_xticks(range(len(mults)), [f'{m:g}' for m in mults])
        ax.set_yticks(range(len(blocks)), [str(b) for b in blocks])
        ax.set_xlabel("lower blocks' lr multiplier (0: frozen)")
        ax.set_ylabel('lower blocks')
        ax.set_title(f'{column} top-1 (%)')
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def claims(plan: StudyPlan, cells: dict, results: dict, lr_cells: list[dict], columns: list[str]) -> list[str]:
    """The paper's five claims, each checked against this study (None-safe: a claim without its rows is skipped)."""
    keys = {row['key'] for row in plan.rows}
    out = []

    def verdicts(a: str, b: str) -> str:
        words = {1: 'above', -1: 'below', 0: 'within the spread of'}
        return ', '.join(f'{c} {words[compare(cells[a][c], cells[b][c])]}' for c in columns)

    if {'mtl', 'mae', 'mocov3'} <= keys:
        out.append(
            f'1. MTL fails to beat either loss alone. Here MTL vs MAE: {verdicts("mtl", "mae")}; '
            f'MTL vs MoCo v3: {verdicts("mtl", "mocov3")}.'
        )
    if FIGURE1 in results:
        out.append(
            f'2. The gradients conflict, more so in deeper blocks. Here: {results[FIGURE1]["trend"]["sentence"]}'
        )
    if ATTENTION_DISTANCE in results and {'mae', 'mocov3'} <= keys:
        names = {row['key']: row['name'] for row in plan.rows}
        summary = results[ATTENTION_DISTANCE]['summary']
        mean = {(s['method'], s['block']): s['mean'] for s in summary}
        blocks = sorted({s['block'] for s in summary})
        half = len(blocks) // 2
        lower = [statistics.fmean(mean[(names[k], b)] for b in blocks[:half]) for k in ('mae', 'mocov3')]
        upper = [statistics.fmean(mean[(names[k], b)] for b in blocks[half:]) for k in ('mae', 'mocov3')]
        out.append(
            '3. MIM suits the lower blocks, CL the higher ones (MIM attends locally below, CL globally above). '
            f'Here the mean attention distance of blocks {blocks[0]}-{blocks[half - 1]} is {lower[0]:.1f} px for MAE '
            f'and {lower[1]:.1f} for MoCo v3; of blocks {blocks[half]}-{blocks[-1]}, {upper[0]:.1f} and {upper[1]:.1f}.'
        )
    if {'mim2cl_frozen', 'cl2mim'} <= keys:
        out.append(
            '4. The order matters: MIM -> CL works, CL -> MIM does not. Here MIM -> CL vs CL -> MIM: '
            f'{verdicts("mim2cl_frozen", "cl2mim")}.'
        )
    if lr_cells:
        lines = ' '.join(lr_search_sentence(lr_cells, c) for c in lr_cells[0]['top1'])
        out.append(f'5. A small lr on the lower blocks beats freezing them (and the full lr). Here: {lines}')
    return out


def _machine() -> str:
    import os
    import platform

    import torch

    return (
        f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}, '
        f'Python {platform.python_version()}, torch {torch.__version__}'
    )


def write_report(
    study: Config, plan: StudyPlan, results: dict[str, dict], seconds: dict[str, float], work_dir: Path, command: str
) -> dict[str, Path]:
    """Write ``report.md``, ``study.json``, ``training_curves.png`` and (with an lr search) ``lr_search.png`` into
    ``work_dir``."""
    finetune_column = study.finetune.column
    cells = table(plan, results, finetune_column)
    paper_columns = list(dict.fromkeys(c for row in plan.rows for c in row.get('paper', {})))
    root = Path(study.data.root)
    lines = [
        f'# Layer Grafted Pre-training study: {root.name}',
        '',
        f'`{command}` on {_machine()}: {len(plan.jobs)} jobs, {sum(seconds.values()) / 60:.1f} min of job time; '
        f'seeds {plan.seeds}.',
        '',
        '## Table 1',
        '',
        f'Top-1 (%) on the val images, mean ± std over {len(plan.seeds)} seed(s) (sample std); the paper: ViT-B/16 on '
        "ImageNet-1k (Table 1; Layer Grafted: its 1 % few-shot headline; a row from another method's paper says so "
        'in how it was made).',
        '',
        '| method | ' + ' | '.join(plan.columns) + ' | ' + ' | '.join(f'paper: {c}' for c in paper_columns) + ' |',
        '|---' * (1 + len(plan.columns) + len(paper_columns)) + '|',
    ]
    for row in plan.rows:
        paper = row.get('paper', {})
        lines.append(
            f'| {row["name"]} | '
            + ' | '.join(_fmt(cells[row['key']][c]) for c in plan.columns)
            + ' | '
            + ' | '.join(f'{paper[c]:.1f}' if c in paper else '-' for c in paper_columns)
            + ' |'
        )
    lines += ['', '### Images a class of each split', '', '| column | split file | images | a class (min-max) |',
              '|---|---|---|---|']  # fmt: skip
    splits = {}
    for column, split in study.frozen_eval.splits.items():
        size = images_per_class(root / split)
        splits[column] = dict(split=split, **size._asdict())
        lines.append(f'| {column} | `{split}` | {size.images} | {size.mean:.1f} ({size.min}-{size.max}) |')
    lines.append(
        f'| {finetune_column} | all of `meta/train.txt`, every weight trained (`{study.finetune.config}`) | '
        f'{splits.get("linear", {}).get("images", "-")} | |'
    )
    lines += ['', '### How each row was made', '', '| method | config | starts from | epochs (warm-up) | what |',
              '|---|---|---|---|---|']  # fmt: skip
    names = {row['key']: row['name'] for row in plan.rows}
    made = {}
    for row in plan.rows:
        if row.get('config'):
            job = plan.job(f'{PRETRAIN}/{row["key"]}/seed{plan.seeds[0]}')
            sched = schedule_of(Config.fromfile(row['config']), job.spec['options'])
            length = f'{sched["epochs"]} ({sched["warmup"]})'
        else:
            length = '-'
        start = names[row['init']['row']] if row.get('init') else 'random init'
        made[row['key']] = dict(config=row.get('config'), starts_from=start, schedule=length, made=row.get('made'))
        lines.append(f'| {row["name"]} | `{row.get("config")}` | {start} | {length} | {row.get("made", "")} |')
    pretrained = {row['name']: plan.job(f'{PRETRAIN}/{row["key"]}/seed{plan.seeds[0]}') for row in plan.rows
                  if row.get('config')}  # fmt: skip
    curves = plot_training_curves(
        {name: work_dir / job.key for name, job in pretrained.items()}, work_dir / 'training_curves.png', columns=4
    )
    lines += [
        '',
        f'### Training curves, seed {plan.seeds[0]}',
        '',
        f'![training curves]({curves.name})',
        '',
        f'The loss per iteration and, where the run had the kNN monitor, its top-1 on val ({KNN_SCALAR}).',
    ]
    lines += ['', f'### {finetune_column} against linear', '']
    for row in plan.rows:
        c, ft = cells[row['key']].get('linear'), cells[row['key']][finetune_column]
        if c is not None:
            word = {1: 'above', -1: 'below', 0: 'within the spread of'}[compare(ft, c)]
            lines.append(f'- {row["name"]}: {ft["mean"] - c["mean"]:+.1f} points, {word} linear.')

    lines += ['', "## The paper's claims, checked here", '']
    lr_cells = lr_search_table(plan, results) if plan.lr_grid else []
    lines += claims(plan, cells, results, lr_cells, plan.columns)

    if FIGURE1 in results:
        trend = results[FIGURE1]['trend']
        lines += ['', '## Figure 1: gradient conflict on the MTL model', '',
                  f'![Figure 1]({FIGURE1}/gradient_conflict.png)', '',
                  '| block | samples | median | q1 | q3 | negative |', '|---|---|---|---|---|---|']  # fmt: skip
        for s in results[FIGURE1]['summary']:
            lines.append(
                f'| {s["block"]} | {s["n"]} | {s["median"]:.3f} | {s["q1"]:.3f} | {s["q3"]:.3f} | '
                f'{100 * s["negative_share"]:.0f} % |'
            )
        lines += ['', trend['sentence']]
    if ATTENTION_DISTANCE in results:
        summary = results[ATTENTION_DISTANCE]['summary']
        blocks = sorted({s['block'] for s in summary})
        lines += ['', '## Mean attention distance', '',
                  f'![attention distance]({ATTENTION_DISTANCE}/attention_distance.png)', '',
                  '| method | ' + ' | '.join(f'block {b}' for b in blocks) + ' |',
                  '|---' * (1 + len(blocks)) + '|']  # fmt: skip
        for method in dict.fromkeys(s['method'] for s in summary):
            means = {s['block']: s['mean'] for s in summary if s['method'] == method}
            lines.append(f'| {method} | ' + ' | '.join(f'{means[b]:.1f}' for b in blocks) + ' |')
        lines += ['', 'Pixels, mean over the heads, on the first val images; the CLS token left out.']
    paths = {'md': work_dir / 'report.md', 'json': work_dir / 'study.json'}
    if lr_cells:
        columns = list(lr_cells[0]['top1'])
        paths['lr_search'] = work_dir / 'lr_search.png'
        plot_lr_search(lr_cells, columns, paths['lr_search'])
        lines += ['', '## The lr search', '', '![lr search](lr_search.png)', '']
        lines += [lr_search_sentence(lr_cells, c) for c in columns]
        lines += ['', f'The {names[study.lr_search.row]} row\'s config at seed {plan.seeds[0]}, one run per cell; at '
                  'multiplier 1 the split point changes nothing (one run).']  # fmt: skip
    paths['md'].write_text('\n'.join(lines) + '\n')
    payload = dict(
        command=command,
        machine=_machine(),
        seeds=plan.seeds,
        columns=plan.columns,
        table={names[k]: v for k, v in cells.items()},
        paper={row['name']: row.get('paper', {}) for row in plan.rows},
        splits=splits,
        rows=made,
        lr_search=lr_cells,
        jobs={
            job.key: dict(kind=job.kind, spec=job.spec, result=results[job.key], seconds=seconds.get(job.key))
            for job in plan.jobs
        },  # fmt: skip
    )
    paths['json'].write_text(json.dumps(payload, indent=1, default=str))
    return paths
