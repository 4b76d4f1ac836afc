"""The study as a list of jobs: what to run for every row, seed, column, analysis and lr-search cell.

A study config (``configs/study/table1_digits.py``) names the rows (a pre-training config each, or none for the
random-initialisation reference, the row whose checkpoint it starts from, and the backbone options of an encoder whose
architecture is not the evaluation configs' own), the columns (split files read by a logistic regression on the frozen
encoder, and a fine-tuning config), the analyses and the lr-search grid. This module turns it into :class:`Job` s with
their dependencies; :mod:`lgp.study.execute` runs them, :mod:`lgp.study.report` reads their results. A method joins the
study by adding a row to the config; nothing here names a method.
"""

from dataclasses import dataclass, field
from typing import Any

from mmengine.config import Config

PRETRAIN, RANDOM_INIT, FROZEN_EVAL, FINETUNE = 'pretrain', 'random_init', 'frozen_eval', 'finetune'
FIGURE1, ATTENTION_DISTANCE = 'figure1', 'attention_distance'
LR_SEARCH = 'lr_search'


@dataclass(frozen=True)
class Job:
    """One run or evaluation; its result lives in ``<work dir>/<key>/result.json``.

    Attributes:
        key: its folder under the work dir, e.g. ``pretrain/mae/seed0``.
        kind: what runs (the module constants).
        spec: everything its result depends on, besides its dependencies' results; a finished job is reused only
            with the same spec.
        deps: keys of the jobs whose results it needs.
        label: how the progress line names it.
    """

    key: str
    kind: str
    spec: dict[str, Any]
    deps: tuple[str, ...] = ()
    label: str = ''


@dataclass
class StudyPlan:
    """The jobs in an order that respects their dependencies, and what the report needs to read them."""

    jobs: list[Job]
    seeds: list[int]
    rows: list[dict]
    columns: list[str]
    lr_grid: list[dict] = field(default_factory=list)

    def job(self, key: str) -> Job:
        return next(j for j in self.jobs if j.key == key)


def scaled_schedule(cfg: Config, scale: float) -> dict[str, Any]:
    """cfg-options that shorten (scale < 1) or lengthen a run and its warm-up by ``scale``, in whole epochs.

    lgp's schedules are a warm-up (``param_scheduler[0]``, ending at ``param_scheduler[1].begin``) then a cosine to the
    end of the run (``train_cfg.max_epochs``); E epochs with W of warm-up become max(2, round(E s)) with
    min(max(1, round(W s)), E' - 1). Scale 1 changes nothing.
    """
    if scale == 1:
        return {}
    epochs = cfg.train_cfg.max_epochs
    warmup = cfg.param_scheduler[0].end
    if cfg.param_scheduler[1].begin != warmup:
        raise ValueError(f'Expected the warm-up to end where the next scheduler begins, got {cfg.param_scheduler}.')
    new_epochs = max(2, round(epochs * scale))
    new_warmup = min(max(1, round(warmup * scale)), new_epochs - 1)
    options = {
        'train_cfg.max_epochs': new_epochs,
        'param_scheduler.0.end': new_warmup,
        'param_scheduler.1.begin': new_warmup,
    }
    if 'val_interval' in cfg.train_cfg:
        options['train_cfg.val_interval'] = new_epochs
    return options


def schedule_of(cfg: Config, options: dict[str, Any]) -> dict[str, int]:
    """Epochs and warm-up epochs of a run of ``cfg`` with ``options``."""
    return dict(
        epochs=options.get('train_cfg.max_epochs', cfg.train_cfg.max_epochs),
        warmup=options.get('param_scheduler.0.end', cfg.param_scheduler[0].end),
    )


def evaluation_key(pretrain_key: str) -> str:
    """The key of the frozen-encoder evaluation of a pre-training job: ``frozen_eval/mae/seed0`` for
    ``pretrain/mae/seed0``, ``frozen_eval/lr_search/<cell>/seed0`` for ``lr_search/<cell>/seed0``."""
    return f'{FROZEN_EVAL}/' + pretrain_key.removeprefix(f'{PRETRAIN}/')


def _check_rows(rows: list[dict]) -> None:
    keys = [row['key'] for row in rows]
    if len(set(keys)) < len(keys):
        raise ValueError(f'Each study row needs its own key, got {keys}.')
    for i, row in enumerate(rows):
        init = row.get('init')
        if init is None:
            continue
        if row.get('config') is None:
            raise ValueError(f'Row {row["key"]!r} starts from row {init["row"]!r} but has no config to continue with.')
        if init['row'] not in keys[:i]:
            raise ValueError(
                f'Row {row["key"]!r} starts from row {init["row"]!r}, which is not an earlier row of the study '
                f'(rows: {keys}): list the rows a row starts from before it.'
            )


def _lr_grid(lr_search: dict, base_cfg: Config) -> list[dict]:
    """The grid cells, each ``dict(lower_blocks, lower_lr_mult, options)``; the row's own setting keeps its options
    empty, and at multiplier 1 every split point is the same run (kept once, at the row's split point)."""
    default_blocks, default_mult = base_cfg.model.lower_blocks, base_cfg.model.lower_lr_mult
    cells = []
    for blocks in lr_search['lower_blocks']:
        for mult in lr_search['lower_lr_mults']:
            run_blocks = default_blocks if mult == 1 else blocks
            options = {}
            if run_blocks != default_blocks:
                options['model.lower_blocks'] = run_blocks
            if mult != default_mult:
                options['model.lower_lr_mult'] = mult
            cells.append(dict(lower_blocks=blocks, lower_lr_mult=mult, options=options))
    return cells


def _slug(options: dict[str, Any]) -> str:
    return '_'.join(f'{k.split(".")[-1]}{v}' for k, v in sorted(options.items())) or 'row'


def make_plan(
    study: Config,
    seeds: list[int],
    schedule_scale: float = 1.0,
    finetune_scale: float = 1.0,
    lr_search: dict | None = None,
) -> StudyPlan:
    """All jobs of ``study`` for ``seeds``; ``lr_search`` (the config's, or a smaller grid) adds the grid's runs.

    Per seed s and row r: ``pretrain/r/seed{s}`` (or ``random_init``), then ``frozen_eval/r/seed{s}`` (the split
    columns) and ``finetune/r/seed{s}``. Once: ``figure1`` on the first seed's run of ``study.figure1.row``,
    ``attention_distance`` on the first seed's pre-trained rows. The lr search runs its row's config per cell at the
    first seed, continuing from the same checkpoint as the row.
    """
    rows = [dict(row) for row in study.rows]
    _check_rows(rows)
    row_cfgs = {row['key']: Config.fromfile(row['config']) for row in rows if row.get('config')}
    finetune_options = scaled_schedule(Config.fromfile(study.finetune.config), finetune_scale)
    data_root = study.data.root
    jobs: list[Job] = []

    def pretrain_job(row: dict, seed: int, options: dict, key: str, label: str) -> Job:
        deps, init = (), row.get('init')
        if init is not None:
            deps = (f'{PRETRAIN}/{init["row"]}/seed{seed}',)
        spec = dict(
            config=row['config'],
            seed=seed,
            data_root=data_root,
            options=dict(scaled_schedule(row_cfgs[row['key']], schedule_scale), **options),
            init_option=init['option'] if init else None,
        )
        return Job(key, PRETRAIN, spec, deps, label)

    def frozen_eval_job(pretrain_key: str, columns: list[str], label: str, encoder: dict) -> Job:
        splits = {c: study.frozen_eval.splits[c] for c in columns}
        spec = dict(config=study.frozen_eval.config, splits=splits, data_root=data_root)
        if encoder:  # only then: the specs of rows without one stay as they were
            spec['encoder'] = encoder
        return Job(evaluation_key(pretrain_key), FROZEN_EVAL, spec, (pretrain_key,), label)

    for seed in seeds:
        for row in rows:
            key = f'{PRETRAIN}/{row["key"]}/seed{seed}'
            encoder = row.get('encoder', {})
            if row.get('config') is None:
                spec = dict(eval_config=study.frozen_eval.config, seed=seed)
                if encoder:
                    spec['encoder'] = encoder
                jobs.append(Job(key, RANDOM_INIT, spec, (), f'{row["name"]}, seed {seed}: random initialisation'))
            else:
                jobs.append(pretrain_job(row, seed, {}, key, f'{row["name"]}, seed {seed}: pre-training'))
            label = f'{row["name"]}, seed {seed}: frozen-encoder columns'
            jobs.append(frozen_eval_job(key, list(study.frozen_eval.splits), label, encoder))
            jobs.append(
                Job(
                    f'{FINETUNE}/{row["key"]}/seed{seed}',
                    FINETUNE,
                    dict(
                        config=study.finetune.config,
                        seed=seed,
                        data_root=data_root,
                        options=dict(finetune_options, **{f'model.backbone.{k}': v for k, v in encoder.items()}),
                    ),
                    (key,),
                    f'{row["name"]}, seed {seed}: fine-tuning',
                )
            )
    first = seeds[0]
    figure1 = study.figure1
    figure1_row = next(r for r in rows if r['key'] == figure1.row)
    jobs.append(
        Job(
            FIGURE1,
            FIGURE1,
            dict(
                config=figure1_row['config'],
                data_root=data_root,
                num_batches=figure1.num_batches,
                batch_size=figure1.batch_size,
            ),
            (f'{PRETRAIN}/{figure1.row}/seed{first}',),
            f'Figure 1: gradient conflict of {figure1_row["name"]}, seed {first}',
        )
    )
    measured = [row for row in rows if row.get('config')]
    jobs.append(
        Job(
            ATTENTION_DISTANCE,
            ATTENTION_DISTANCE,
            dict(
                data_config=study.frozen_eval.config,
                data_root=data_root,
                num_images=study.attention_distance.num_images,
                models=[dict(label=row['name'], config=row['config']) for row in measured],
            ),
            tuple(f'{PRETRAIN}/{row["key"]}/seed{first}' for row in measured),
            f'mean attention distance of {len(measured)} encoders, seed {first}',
        )
    )

    grid = []
    if lr_search is not None:
        row = next(r for r in rows if r['key'] == lr_search['row'])
        encoder = row.get('encoder', {})
        for cell in _lr_grid(lr_search, row_cfgs[row['key']]):
            if cell['options']:
                key = f'{LR_SEARCH}/{_slug(cell["options"])}/seed{first}'
                label = f'lr search, lower blocks {cell["lower_blocks"]} at {cell["lower_lr_mult"]}x, seed {first}'
                if all(j.key != key for j in jobs):
                    jobs.append(pretrain_job(row, first, cell['options'], key, label + ': pre-training'))
                    jobs.append(frozen_eval_job(key, lr_search['columns'], label + ': frozen-encoder columns', encoder))
            else:
                key = f'{PRETRAIN}/{row["key"]}/seed{first}'
            grid.append(dict(cell, pretrain=key, evaluation=evaluation_key(key)))
    columns = list(study.frozen_eval.splits) + [study.finetune.column]
    return StudyPlan(jobs, seeds, rows, columns, grid)
