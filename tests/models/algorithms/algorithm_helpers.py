"""Helpers of the algorithm tests (a module, not a test file): model configs of the CPU twins, views, training steps."""

from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmpretrain.models.utils import SelfSupDataPreprocessor

REPO = Path(__file__).resolve().parents[3]


def model_cfg(name: str, **overrides) -> dict:
    """The model of a CPU base config (``configs/_base_/models``) without its type, with identity normalisation."""
    cfg = Config.fromfile(REPO / 'configs' / '_base_' / 'models' / name).model.to_dict()
    preprocessor = dict(type=SelfSupDataPreprocessor, mean=[0, 0, 0], std=[1, 1, 1])
    return {**{k: v for k, v in cfg.items() if k != 'type'}, 'data_preprocessor': preprocessor, **overrides}


def views(n: int, seed: int = 0, batch: int = 8) -> list[torch.Tensor]:
    """``n`` noisy views (batch, 3, 32, 32) in [0, 1] of the same random images."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(batch, 3, 32, 32, generator=g)
    return [(base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1) for _ in range(n)]


def train_steps(model, inputs: list[torch.Tensor], steps: int, lr: float = 1e-3) -> list[float]:
    """``steps`` AdamW steps of ``model.train_step`` on one batch; the summed logged losses of each."""
    wrapper = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr))
    data = dict(inputs=[255 * v for v in inputs], data_samples=None)
    losses = []
    for _ in range(steps):
        log = model.train_step(data, wrapper)
        assert all(torch.isfinite(v) for v in log.values())
        losses.append(sum(log.values()).item())
    return losses
