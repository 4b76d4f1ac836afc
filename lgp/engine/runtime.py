"""Run-time set-up shared by ``tools/train.py`` and ``tools/test.py``: mixed precision, CPU-only multi-process, and
checks of a config that mmengine would only fail on deep inside a run.

mmengine 0.10.7 assumes an accelerator in two places: ``AmpOptimWrapper`` asserts one is present, and the
``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the model in DDP with ``device_ids=[LOCAL_RANK]``.
The functions here keep the config's choices on a GPU machine and pick working CPU equivalents without one.
"""

import os
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from . import optim_wrappers  # noqa: F401  (registers CPUAmpOptimWrapper)

AMP_DTYPES = {'bf16': 'bfloat16', 'fp16': 'float16'}


def enable_amp(cfg: Config, dtype: str = 'bf16') -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision in ``dtype`` (``bf16`` or ``fp16``).

    With CUDA: mmengine's ``AmpOptimWrapper`` with dynamic loss scaling. Without: :class:`CPUAmpOptimWrapper`
    (bfloat16 only; ``fp16`` raises ``ValueError``). Types are set by registered name, found from any scope, so
    that the config can still be dumped as text.
    """
    if dtype not in AMP_DTYPES:
        raise ValueError(f'AMP dtype must be one of {sorted(AMP_DTYPES)}, got {dtype!r}.')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    elif dtype == 'bf16':
        cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
    else:
        raise ValueError('fp16 mixed precision needs a GPU; on the CPU use --amp-dtype bf16.')
    cfg.optim_wrapper.dtype = AMP_DTYPES[dtype]


def setup_cpu_distributed(cfg: Config) -> bool:
    """Make ``cfg.launcher == 'pytorch'`` work without CUDA: gloo backend, DDP without device ids.

    Initialises the process group here (mmengine's launcher would call ``torch.cuda.set_device`` first), from the
    variables ``torchrun`` sets, and with ``cfg.env_cfg.dist_cfg``'s other options (``timeout`` in seconds).
    Returns whether it did anything: nothing on a CUDA machine or for a single-process run.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f'Without a GPU only the pytorch launcher is supported (torchrun, tools/dist_train.sh), '
            f'got --launcher {launcher}.'
        )
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if cfg.get('sync_bn'):
        # torch's SyncBatchNorm runs on GPUs only: on the CPU each process normalises the heads' BN over its own
        # share of the batch (running statistics then differ between processes; parameters stay in sync by DDP).
        print_log(f'sync_bn={cfg.sync_bn!r} needs a GPU: the heads use per-process BatchNorm on the CPU.', 'current')
        cfg.sync_bn = None
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False),
    )
    wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
    if not torch_dist.is_initialized():
        options = {k: v for k, v in dist_cfg.items() if k not in ('backend', 'init_backend')}
        if 'timeout' in options:
            options['timeout'] = timedelta(seconds=options['timeout'])
        torch_dist.init_process_group(
            backend='gloo', rank=int(os.environ['RANK']), world_size=int(os.environ['WORLD_SIZE']), **options
        )
    return True


def scale_lr_for_accumulation(cfg: Config) -> bool:
    """Make ``auto_scale_lr`` scale the lr for the batch of an optimiser step under gradient accumulation.

    mmengine 0.10.7's ``Runner.scale_lr`` multiplies the lr by ``world_size * batch_size / base_batch_size`` and
    ignores ``optim_wrapper.accumulative_counts`` (open-mmlab/mmengine#1308; the fix, PR #1080, is unmerged): with k
    accumulated iterations of batch B a step averages the gradient of ``world_size * B * k`` samples, but the lr is
    scaled for ``world_size * B``. This divides ``auto_scale_lr.base_batch_size`` by k, so that mmengine's ratio
    becomes ``world_size * B * k / base_batch_size``. The unscaled value is kept in
    ``auto_scale_lr.unscaled_base_batch_size`` and reused, so a second call (or a run from the dumped config) does not
    divide twice. Returns whether the lr scaling changed: not when ``auto_scale_lr`` is off or k is 1.
    """
    auto_scale_lr = cfg.get('auto_scale_lr')
    counts = cfg.get('optim_wrapper', {}).get('accumulative_counts', 1)
    if not auto_scale_lr or not auto_scale_lr.get('enable', False) or counts <= 1:
        return False
    base = auto_scale_lr.setdefault('unscaled_base_batch_size', auto_scale_lr['base_batch_size'])
    auto_scale_lr['base_batch_size'] = base / counts
    print_log(
        f'auto_scale_lr: accumulative_counts={counts}, so base_batch_size {base} -> {base / counts} (the lr is '
        f'scaled for the {counts} x larger batch of an optimiser step).',
        'current',
    )
    return True


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """``Config.fromfile(path)`` with ``--cfg-options`` merged and the config's default scope set (mmpretrain if it
    names none): for the tools that build parts of a config's model or data without a runner."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def check_schedule_fits(cfg: Config) -> None:
    """Raise ``ValueError`` if a param scheduler begins at or after the end of the run.

    A run's length is ``train_cfg.max_epochs`` (or ``max_iters``) alone, and the cosine phase of lgp's schedules
    ends with the run; shortened below its warm-up, mmengine fails while building the schedulers with
    "end should be larger than begin". This says which scheduler and how to shorten the warm-up instead.
    """
    train_cfg, schedulers = cfg.get('train_cfg') or {}, cfg.get('param_scheduler') or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else schedulers
    for by_epoch, unit in ((True, 'max_epochs'), (False, 'max_iters')):
        length = train_cfg.get(unit)
        if length is None:
            continue
        for i, scheduler in enumerate(schedulers):
            if scheduler.get('by_epoch', True) == by_epoch and scheduler.get('begin', 0) >= length:
                begin = scheduler['begin']
                fix = f'Run at least {begin + 1} {unit[4:]}'
                if i > 0 and length > 1:
                    fix += (
                        f', or shorten the warm-up: --cfg-options param_scheduler.{i - 1}.end=N '
                        f'param_scheduler.{i}.begin=N with 0 < N < {length}'
                    )
                raise ValueError(
                    f'train_cfg.{unit}={length} ends before param_scheduler[{i}] begins ({begin=}): the run is '
                    f'shorter than its warm-up. {fix}.'
                )


__all__ = [
    'AMP_DTYPES',
    'check_schedule_fits',
    'enable_amp',
    'load_config',
    'scale_lr_for_accumulation',
    'setup_cpu_distributed',
]
