"""lgp.engine.runtime: the config fixes ``tools/train.py`` and ``tools/test.py`` apply before a run is built (the lr
under gradient accumulation, mixed precision and multi-process training without a GPU, a schedule that fits the run).
"""

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner import BaseLoop, Runner

import lgp  # noqa: F401  (registrations)
from lgp.engine import check_schedule_fits, enable_amp, scale_lr_for_accumulation, setup_cpu_distributed

REPO = Path(__file__).resolve().parents[2]
MAE_TWIN = 'configs/mae_vit-nano_digits.py'  # 20 epochs, 2 of warm-up
SEG_TWIN = 'configs/segmentation/upernet_lgp-vit-nano_digits-seg.py'  # 200 iterations, 20 of warm-up
TOP_LEVEL_CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts
)


# scale_lr_for_accumulation


def test_scale_lr_for_accumulation_divides_base_batch_size() -> None:
    def config(enable: bool = True, counts: int | None = 4) -> Config:
        optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
        if counts is not None:
            optim_wrapper['accumulative_counts'] = counts
        return Config(dict(optim_wrapper=optim_wrapper, auto_scale_lr=dict(base_batch_size=4096, enable=enable)))

    cfg = config()
    assert scale_lr_for_accumulation(cfg)
    assert cfg.auto_scale_lr.base_batch_size == 1024 and cfg.auto_scale_lr.unscaled_base_batch_size == 4096
    assert scale_lr_for_accumulation(cfg)  # again (e.g. the dumped config): not divided twice
    assert cfg.auto_scale_lr.base_batch_size == 1024
    for unchanged in (config(enable=False), config(counts=1), config(counts=None)):
        assert not scale_lr_for_accumulation(unchanged)
        assert unchanged.auto_scale_lr == dict(base_batch_size=4096, enable=unchanged.auto_scale_lr.enable)
    assert not scale_lr_for_accumulation(Config(dict(optim_wrapper=dict(accumulative_counts=2))))


# enable_amp and setup_cpu_distributed (CUDA's presence is patched: both branches run on any machine)


def amp_config() -> Config:
    return Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))))


def test_enable_amp_without_cuda_uses_the_cpu_wrapper_in_bfloat16_only(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='fp16 mixed precision needs a GPU'):
        enable_amp(amp_config(), 'fp16')
    cfg = amp_config()
    enable_amp(cfg, 'bf16')
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('CPUAmpOptimWrapper', 'bfloat16')
    assert 'loss_scale' not in cfg.optim_wrapper
    with pytest.raises(ValueError, match='AMP dtype must be one of'):
        enable_amp(amp_config(), 'fp8')


@pytest.mark.parametrize('dtype, torch_dtype', [('bf16', 'bfloat16'), ('fp16', 'float16')])
def test_enable_amp_with_cuda_uses_mmengines_wrapper_with_dynamic_loss_scale(monkeypatch, dtype, torch_dtype) -> None:
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = amp_config()
    enable_amp(cfg, dtype)
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('AmpOptimWrapper', torch_dtype)
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-3)


def test_setup_cpu_distributed_only_acts_for_the_pytorch_launcher_without_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert not setup_cpu_distributed(Config(dict(launcher='none')))
    assert not setup_cpu_distributed(Config(dict()))
    with pytest.raises(RuntimeError, match='only the pytorch launcher'):
        setup_cpu_distributed(Config(dict(launcher='slurm')))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(launcher='pytorch', sync_bn='torch'))
    assert not setup_cpu_distributed(cfg)  # a GPU machine keeps the config's choices
    assert cfg.sync_bn == 'torch' and 'model_wrapper_cfg' not in cfg


# check_schedule_fits


def mmengine_builds_the_schedulers(cfg: Config) -> bool:
    """Whether mmengine's ``Runner`` builds ``cfg.param_scheduler`` for an epoch-based run of ``max_epochs``: its
    own code, which gives a scheduler without ``end`` the run's length, and its schedulers' own checks."""

    class Loop(BaseLoop):
        def run(self) -> None:
            pass

    runner = SimpleNamespace(
        _train_loop=Loop.__new__(Loop),
        max_epochs=cfg.train_cfg.max_epochs,
        max_iters=None,
        train_dataloader=range(2),  # 2 iterations an epoch
        logger=MMLogger.get_current_instance(),
    )
    optim_wrapper = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    try:
        Runner._build_param_scheduler(runner, cfg.param_scheduler, optim_wrapper)
    except ValueError as error:
        assert 'end should be larger than begin' in str(error)
        return False
    return True


def shortened(config: str, *options: str) -> Config:
    """``config`` with ``--cfg-options`` ``options`` applied as ``tools/train.py`` applies them."""
    cfg = Config.fromfile(REPO / config)
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg


@pytest.mark.parametrize(
    'config, unit, length, begin, enough, fix',
    [(MAE_TWIN, 'max_epochs', 2, 2, '3 epochs', 1), (SEG_TWIN, 'max_iters', 4, 20, '21 iters', 2)],
    ids=['epochs', 'iterations'],
)
def test_a_run_shorter_than_its_warm_up_names_the_scheduler_and_the_fix(config, unit, length, begin, enough, fix):
    cfg = shortened(config, f'train_cfg.{unit}={length}')
    with pytest.raises(ValueError) as error:
        check_schedule_fits(cfg)
    assert str(error.value) == (
        f'train_cfg.{unit}={length} ends before param_scheduler[1] begins (begin={begin}): the run is shorter than '
        f'its warm-up. Run at least {enough}, or shorten the warm-up: --cfg-options param_scheduler.0.end=N '
        f'param_scheduler.1.begin=N with 0 < N < {length}.'
    )
    # either fix it names works
    fixed = (f'param_scheduler.0.end={fix}', f'param_scheduler.1.begin={fix}')
    check_schedule_fits(shortened(config, f'train_cfg.{unit}={length}', *fixed))
    check_schedule_fits(shortened(config, f'train_cfg.{unit}={enough.split()[0]}'))


def test_a_one_epoch_run_is_not_told_to_shorten_the_warm_up_to_nothing() -> None:
    """0 < N < 1 has no integer solution: only the run length is named."""
    cfg = shortened(MAE_TWIN, 'train_cfg.max_epochs=1', 'param_scheduler.0.end=1', 'param_scheduler.1.begin=1')
    with pytest.raises(ValueError, match=r'param_scheduler\[1\] begins \(begin=1\)') as error:
        check_schedule_fits(cfg)
    assert str(error.value).endswith('Run at least 2 epochs.')


@pytest.mark.parametrize('max_epochs', [1, 2, 3, 4])
@pytest.mark.parametrize('warm_up', [1, 2, 3])
def test_the_check_agrees_with_mmengines_scheduler_build(max_epochs: int, warm_up: int) -> None:
    """Epoch-based: it fails exactly where mmengine would fail later, deep inside the run's set-up."""
    options = (f'train_cfg.max_epochs={max_epochs}', f'param_scheduler.0.end={warm_up}')
    cfg = shortened(MAE_TWIN, *options, f'param_scheduler.1.begin={warm_up}')
    try:
        check_schedule_fits(cfg)
        fits = True
    except ValueError:
        fits = False
    assert fits == (max_epochs > warm_up) == mmengine_builds_the_schedulers(cfg)


def test_schedulers_of_the_other_unit_are_not_compared_with_the_run_length() -> None:
    """An iteration-based scheduler is measured against max_iters only, an epoch-based one against max_epochs."""
    by_iter = dict(type='LinearLR', by_epoch=False, begin=0, end=500)
    check_schedule_fits(Config(dict(train_cfg=dict(max_epochs=4), param_scheduler=[by_iter, dict(by_iter, begin=500)])))
    by_epoch = dict(type='CosineAnnealingLR', begin=50)
    check_schedule_fits(Config(dict(train_cfg=dict(max_iters=10), param_scheduler=by_epoch)))
    with pytest.raises(ValueError, match=r'train_cfg.max_epochs=4 ends before param_scheduler\[0\] begins'):
        check_schedule_fits(Config(dict(train_cfg=dict(max_epochs=4), param_scheduler=by_epoch)))
    check_schedule_fits(Config(dict(train_cfg=dict(max_epochs=4))))  # no schedulers: nothing to check


@pytest.mark.parametrize('config', TOP_LEVEL_CONFIGS)
def test_every_shipped_config_fits_its_schedule(config: str) -> None:
    check_schedule_fits(Config.fromfile(REPO / config))
