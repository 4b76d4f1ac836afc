"""Pre-training algorithms on the nano backbone: MoCo v3, Layer Grafted MoCo v3, the MTL baseline, and the
gradient-conflict measure."""

import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.models.utils import SelfSupDataPreprocessor

from lgp.analysis import block_gradient_cosines
from lgp.models import LGPViT
from lgp.models.algorithms import GraftedMoCoV3, MoCoV3, MTLMAEMoCoV3

REPO = Path(__file__).resolve().parents[1]
D = 48


def model_cfg(name: str, **overrides) -> dict:
    """A model of the CPU configs (``configs/_base_/models``), with normalisation as the runner adds it."""
    cfg = Config.fromfile(REPO / 'configs' / '_base_' / 'models' / name).model
    preprocessor = dict(type=SelfSupDataPreprocessor, mean=[0, 0, 0], std=[1, 1, 1])
    return {**{k: v for k, v in cfg.items() if k != 'type'}, 'data_preprocessor': preprocessor, **overrides}


def mocov3_parts(backbone: dict) -> dict:
    return model_cfg('mocov3_vit_nano.py', backbone=backbone)


def nano_backbone(**kwargs) -> dict:
    return dict(type=LGPViT, arch='nano', img_size=32, stop_grad_patch_embed=True, **kwargs)


def views(n: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(8, 3, 32, 32, generator=g)
    return [(base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1) for _ in range(n)]


def train_steps(model, inputs: list[torch.Tensor], steps: int, lr: float = 1e-3) -> list[float]:
    wrapper = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr))
    data = dict(inputs=[255 * v for v in inputs], data_samples=None)
    losses = []
    for _ in range(steps):
        log = model.train_step(data, wrapper)
        assert all(torch.isfinite(v) for v in log.values())
        losses.append(sum(log.values()).item())
    return losses


@pytest.fixture(autouse=True)
def max_iters():
    """The momentum schedule reads the run length from the message hub, as the runner sets it."""
    MessageHub.get_current_instance().update_info('max_iters', 100)


@pytest.fixture
def mae_weights(tmp_path) -> tuple[str, dict]:
    """An MAE-trained backbone stand-in: a random nano backbone saved as an lgp checkpoint."""
    torch.manual_seed(7)
    backbone = LGPViT('nano', img_size=32)
    backbone.init_weights()
    path = tmp_path / 'mae.pth'
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    torch.save({'state_dict': {'backbone.' + k: v for k, v in state.items()}}, path)
    return str(path), state


def test_mocov3_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = MoCoV3(**mocov3_parts(nano_backbone()))
    model.init_weights()
    losses = train_steps(model, views(2), steps=12)
    assert losses[-1] < losses[0]


def test_grafted_momentum_encoder_starts_at_the_mae_weights(mae_weights):
    path, mae_state = mae_weights
    torch.manual_seed(0)
    model = GraftedMoCoV3(**mocov3_parts(nano_backbone(init_cfg=dict(type='Pretrained', checkpoint=path))))
    model.init_weights()
    for name, value in mae_state.items():
        assert torch.equal(model.backbone.state_dict()[name], value), name
    train_steps(model, views(2), steps=1)
    momentum_backbone = model.momentum_encoder.module[0].state_dict()
    for name, value in mae_state.items():
        assert torch.equal(momentum_backbone[name], value), name  # copied at step 0, before the first update
    moved = model.backbone.layers[0].attn.qkv.weight
    assert not torch.equal(moved, mae_state['layers.0.attn.qkv.weight'])
    assert torch.equal(model.backbone.patch_embed.projection.weight, mae_state['patch_embed.projection.weight'])


def test_grafted_l1_anchor(mae_weights):
    path, mae_state = mae_weights
    model = GraftedMoCoV3(
        anchor_weight=1e-2,
        anchor_blocks=(0, 4),
        **mocov3_parts(nano_backbone(init_cfg=dict(type='Pretrained', checkpoint=path))),
    )
    model.init_weights()
    anchored = set(model.anchored_parameters())
    assert 'cls_token' in anchored and 'layers.3.ln2.bias' in anchored
    assert not anchored & {'pos_embed', 'patch_embed.projection.weight', 'layers.4.ln1.weight', 'ln1.weight'}
    assert model.anchor_distance().item() == 0.0
    with torch.no_grad():
        model.backbone.layers[1].ln1.weight.add_(0.5)
    expected = 0.5 * D
    torch.testing.assert_close(model.anchor_distance(), torch.tensor(expected))
    losses = model.loss([255 * v for v in views(2)], None)
    torch.testing.assert_close(losses['loss_anchor'], torch.tensor(1e-2 * expected))
    restored = GraftedMoCoV3(anchor_weight=1e-2, anchor_blocks=(0, 4), **mocov3_parts(nano_backbone()))
    restored.load_state_dict(model.state_dict(), strict=True)  # theta_MAE travels with the checkpoint
    torch.testing.assert_close(restored.anchor_distance(), torch.tensor(expected))


def test_frozen_lower_blocks_do_not_move():
    """MIM -> CL grafting with the lower blocks fixed: frozen_stages freezes by requires_grad."""
    torch.manual_seed(0)
    model = MoCoV3(**mocov3_parts(nano_backbone(frozen_stages=4)))
    model.init_weights()
    before = copy.deepcopy(model.backbone.state_dict())
    train_steps(model, views(2), steps=2)
    after = model.backbone.state_dict()
    for name in before:
        frozen = name.startswith(('cls_token', 'pos_embed', 'patch_embed')) or (
            name.startswith('layers.') and int(name.split('.')[1]) < 4
        )
        assert torch.equal(before[name], after[name]) == frozen, name
    assert not model.backbone.layers[0].training and model.backbone.layers[5].training


def test_mtl_combination_trains_both_losses():
    torch.manual_seed(0)
    model = MTLMAEMoCoV3(**model_cfg('mtl_vit_nano.py', cl_weight=0.5))
    model.init_weights()
    log = model.loss([255 * v for v in views(3)], None)
    assert set(log) == {'loss_mim', 'loss_cl'} and all(torch.isfinite(v) for v in log.values())
    losses = train_steps(model, views(3), steps=12)
    assert losses[-1] < losses[0]


def test_block_gradient_cosines_match_a_manual_computation():
    torch.manual_seed(0)
    model = MTLMAEMoCoV3(**model_cfg('mtl_vit_nano.py'))
    model.init_weights()
    inputs = [255 * v for v in views(3)]
    ema_before = copy.deepcopy(dict(model.momentum_encoder.named_parameters()))
    torch.manual_seed(1)
    cosines = block_gradient_cosines(model, inputs)
    assert cosines.shape == (6,) and bool(((cosines >= -1) & (cosines <= 1)).all())
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.momentum_encoder.named_parameters():
        assert torch.equal(v, ema_before[k]), k

    torch.manual_seed(1)  # same random masks
    block = list(model.backbone.layers[5].parameters())
    model.mim_loss(inputs[0]).backward()
    g_mim = torch.cat([p.grad.flatten() for p in block])
    model.zero_grad()
    model.contrastive_loss(inputs[1], inputs[2], update_momentum=False).backward()
    g_cl = torch.cat([p.grad.flatten() for p in block])
    expected = (g_mim @ g_cl) / (g_mim.norm() * g_cl.norm())
    torch.testing.assert_close(cosines[5], expected, atol=1e-5, rtol=1e-4)
