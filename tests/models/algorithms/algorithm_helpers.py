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


def protocol_backbone(config: str, checkpoint: Path, **backbone_options) -> tuple[torch.nn.Module, dict, dict]:
    """The backbone of an evaluation or segmentation ``config`` (with ``backbone_options``) initialised from a whole
    pre-training ``checkpoint``, as the protocol's run does.

    Returns:
        The backbone; its state dict; the checkpoint's online encoder (``backbone.*``, the prefix stripped).
    """
    from mmpretrain.registry import MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS

    from lgp.engine import load_config

    options = {'model.backbone.init_cfg.checkpoint': str(checkpoint)}
    options.update({f'model.backbone.{k}': v for k, v in backbone_options.items()})
    cfg = load_config(str(REPO / config), options)
    backbone = (MMSEG_MODELS if 'segmentation' in config else MODELS).build(cfg.model.backbone)
    backbone.init_weights()
    state_dict = torch.load(checkpoint, weights_only=True)['state_dict']
    online = {k.removeprefix('backbone.'): v for k, v in state_dict.items() if k.startswith('backbone.')}
    return backbone, backbone.state_dict(), online


def pooled_keys(backbone: torch.nn.Module, online: dict) -> tuple[set[str], set[str]]:
    """The keys a backbone must take from ``online`` and the ones it adds: with average pooling without a final norm
    (CMAE's and ConMIM's fine-tuning), the encoder's ``ln1`` is left out and ``ln2`` is new."""
    pooled = backbone.out_type == 'avg_featmap' and not backbone.final_norm
    taken = set(online) - ({'ln1.weight', 'ln1.bias'} if pooled else set())
    return taken, ({'ln2.weight', 'ln2.bias'} if pooled else set())
