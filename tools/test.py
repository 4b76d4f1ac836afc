"""Evaluate a checkpoint on a config's test set: ``python tools/test.py CONFIG CHECKPOINT [--out results.pkl]``.

Multi-process: ``tools/dist_test.sh CONFIG CHECKPOINT NPROC`` (torchrun; gloo on machines without a GPU).
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import os
import os.path as osp
import sys

import mmengine
from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from lgp.datasets import MissingInputError, check_input_paths
from lgp.engine import setup_cpu_distributed
from lgp.models.checkpoint import load_model_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model with lgp')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for logs and metrics (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='dump the predictions (.pkl) or, with --out-item metrics, the metrics')
    parser.add_argument('--out-item', choices=['pred', 'metrics'], default='pred', help='what --out holds')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. test_dataloader.batch_size=32',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config; ``--cfg-options`` last, so it overrides everything else."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = None  # loaded strictly in main(): mmengine's load_from would skip keys that do not fit
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    missing = [key for key in ('test_dataloader', 'test_cfg', 'test_evaluator') if cfg.get(key) is None]
    if missing:
        raise ValueError(
            f'{args.config} defines no test set ({", ".join(missing)} missing): pre-training configs '
            'have none; test with a transfer (classification or segmentation) config.'
        )
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    try:  # the test data and the checkpoint, before anything is built (init_cfg checkpoints are not read here)
        files = {'CHECKPOINT, the argument of tools/test.py': args.checkpoint}
        check_input_paths(cfg, loaders=('test_dataloader',), checkpoints=False, files=files)
    except MissingInputError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    load_model_checkpoint(runner.model, args.checkpoint)
    if args.out and args.out_item == 'pred':
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
