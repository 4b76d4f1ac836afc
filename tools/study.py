"""The paper's findings in one command: every Table 1 row over several seeds, Figure 1, the mean attention distance
and the lr search, written up as one report.

    python tools/study.py [configs/study/table1_digits.py] [--quick] [--lr-search] [--seeds N] [--jobs N]

The study config (:mod:`configs.study.table1_digits`) names the rows, the columns, the analyses and the lr-search grid;
:mod:`lgp.study` plans the jobs, runs them and writes ``report.md`` and ``study.json`` (every job's result) into the
work dir (default ``work_dirs/study/<config>[_quick]``). A job that finished is never run again: run the same command
after an interruption and the study goes on where it stopped; add ``--lr-search`` later and only the grid runs.
``--quick``: one seed, every run at the config's ``quick`` scale and a smaller lr grid, so that every part runs in
minutes.
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from mmengine.config import Config

from lgp.datasets import write_digits_imagenet
from lgp.study import IN_PROCESS, StudyExecutor, make_plan, write_report

REPO = Path(__file__).resolve().parents[1]
PREPARE = {
    'digits': lambda root: write_digits_imagenet(root, seed=0),
}
CONVERTERS = {'fashion-mnist': 'python tools/dataset_converters/fashion_mnist_to_imagenet.py {root}'}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Reproduce the paper's study: Table 1 over seeds and its analyses.")
    parser.add_argument('config', nargs='?', default='configs/study/table1_digits.py', help='a study config')
    parser.add_argument('--quick', action='store_true', help="one seed, short runs, a small lr grid (the config's)")
    parser.add_argument('--lr-search', action='store_true', help='also run the lr search grid (always with --quick)')
    parser.add_argument('--seeds', type=int, help="number of seeds (default: the config's; seeds 0..N-1)")
    parser.add_argument(
        '--jobs', type=int, default=2, help='jobs at once (default 2), each with cpu_count / jobs threads'
    )
    parser.add_argument('--work-dir', help='default work_dirs/study/<config name>[_quick]')
    args = parser.parse_args()
    if args.seeds is not None and args.seeds < 1:
        parser.error(f'--seeds must be at least 1, got {args.seeds}.')
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}.')
    return args


def log(message: str) -> None:
    print(f'[study {time.strftime("%H:%M:%S")}] {message}', flush=True)


def prepare_data(study: Config) -> None:
    """Write the data set if a file the study reads is missing and the config says how; else say how to get it."""
    root, prepare = Path(study.data.root), study.data.get('prepare')
    needed = ['meta/train.txt', 'meta/val.txt', *study.frozen_eval.splits.values()]
    missing = [f for f in needed if not (root / f).is_file()]
    if not missing:
        return
    if prepare in PREPARE:
        log(f'writing the {prepare} data to {root} ({", ".join(missing)} missing): {PREPARE[prepare](root)}')
        return
    hint = CONVERTERS.get(prepare, '').format(root=root)
    raise FileNotFoundError(
        f'{root} lacks {", ".join(missing)}: write the data set first' + (f': {hint}' if hint else '.')
    )


def main() -> None:
    args = parse_args()
    config = Path(args.config).resolve()
    study = Config.fromfile(config)
    study.data.root = str(Path(study.data.root).resolve())
    quick = study.quick if args.quick else {}
    seeds = list(range(args.seeds or quick.get('seeds') or study.seeds))
    lr_search = None
    if args.quick or args.lr_search:
        lr_search = dict(study.lr_search, **quick.get('lr_search', {}))
    name = config.stem + ('_quick' if args.quick else '')
    work_dir = Path(args.work_dir or f'work_dirs/study/{name}').resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO)  # the study config's paths (row configs, eval configs) are relative to the project root
    prepare_data(study)
    plan = make_plan(
        study,
        seeds,
        schedule_scale=study.get('schedule_scale', 1.0) * quick.get('schedule_scale', 1.0),
        finetune_scale=study.get('finetune_scale', 1.0) * quick.get('finetune_scale', 1.0),
        lr_search=lr_search,
    )
    log(f'{args.config}: {len(plan.rows)} rows x {len(seeds)} seed(s), {len(plan.jobs)} jobs, in {work_dir}')
    executor = StudyExecutor(plan, work_dir, REPO, jobs=args.jobs, in_process=IN_PROCESS, log=log)
    results = executor.run()
    command = shlex.join(['python', 'tools/study.py', *sys.argv[1:]])
    paths = write_report(study, plan, results, executor.seconds, work_dir, command)
    print(paths['md'].read_text())
    log('wrote ' + ', '.join(str(p) for p in paths.values()))


if __name__ == '__main__':
    main()
