"""The benchmark scripts as modules, and the nano models and inputs the benchmark tests run them on."""

import importlib.util
from pathlib import Path
from types import ModuleType

import torch
from mmpretrain.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
BATCH = 4


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/{name}.py`` as a module (``benchmarks`` is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f'benchmark_{name}', REPO / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_step = load_benchmark('train_step')


def benchmark_cfg(algorithm: str, side: str, step1: Path) -> dict:
    """The nano model config the benchmark builds for one side: ``'lgp'``, or ``'reference'`` (mmpretrain's own
    classes; for CMAE lgp's with ``fast_paths=False``); ``step1``: where the grafted side's step-1 checkpoint is
    written."""
    return train_step.model_configs(algorithm, 'nano', step1)[side != 'lgp']


def build(cfg: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def images(seed: int) -> torch.Tensor:
    return torch.rand(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def conmim_samples(seed: int = 0) -> list:
    """ConMIM's data samples for :func:`images`: each a ``mask`` (8, 8) int64 with 24 of the 64 patches masked."""
    return train_step.conmim_samples(BATCH, 8, seed=seed)
