"""Run-time set-up shared by ``tools/train.py`` and ``tools/test.py``: mixed precision and CPU-only multi-process.

mmengine 0.10.7 assumes an accelerator in two places: ``AmpOptimWrapper`` asserts one is present, and the
``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps the model in DDP with ``device_ids=[LOCAL_RANK]``.
The functions here keep the config's choices on a GPU machine and pick working CPU equivalents without one.
"""

import os
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

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


__all__ = ['AMP_DTYPES', 'enable_amp', 'setup_cpu_distributed']
