"""Train from a config: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] ...``.

Multi-process: ``tools/dist_train.sh CONFIG NPROC`` (torchrun; gloo on machines without a GPU) or
``tools/slurm_train.sh``.
"""

import lgp  # noqa: F401, I001  (first: lgp's compatibility fixes and registrations)

import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from lgp.datasets import MissingInputError, check_input_paths
from lgp.engine import AMP_DTYPES, check_schedule_fits, enable_amp, scale_lr_for_accumulation, setup_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with lgp')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints (default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        metavar='CKPT',
        help='resume from CKPT, or with no value from the latest checkpoint in the work dir',
    )
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--amp-dtype',
        choices=sorted(AMP_DTYPES),
        default='bf16',
        help='mixed-precision type (the CPU supports only bf16)',
    )
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help="scale the lr by the actual total batch over the config's auto_scale_lr.base_batch_size",
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_cfg.max_epochs=1 "a.b=[1,2]"',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead.
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
    if args.amp:
        enable_amp(cfg, args.amp_dtype)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config.')
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    try:  # the data and checkpoints training reads, and the schedule, before anything is built
        check_input_paths(cfg, loaders=('train_dataloader', 'val_dataloader'))
        check_schedule_fits(cfg)
    except (MissingInputError, ValueError) as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    scale_lr_for_accumulation(cfg)  # mmengine's auto_scale_lr ignores accumulative_counts
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
