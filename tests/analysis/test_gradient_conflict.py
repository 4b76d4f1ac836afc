"""The gradient conflict C_MIM,CL per block (lgp.analysis.gradient_conflict, the paper's Figure 1): the cosines
against a manual computation, and the per-block summary against a hand computation."""

import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.models.utils import SelfSupDataPreprocessor

from lgp.analysis import block_gradient_cosines, summarise
from lgp.models.algorithms import MTLMAEMoCoV3

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def max_iters():
    """The momentum schedule reads the run length from the message hub, as the runner sets it."""
    MessageHub.get_current_instance().update_info('max_iters', 100)


def mtl_nano() -> MTLMAEMoCoV3:
    """The MTL model of the CPU configs (configs/_base_/models/mtl_vit_nano.py), identity normalisation."""
    cfg = Config.fromfile(REPO / 'configs/_base_/models/mtl_vit_nano.py').model.to_dict()
    cfg.pop('type')
    preprocessor = dict(type=SelfSupDataPreprocessor, mean=[0, 0, 0], std=[1, 1, 1])
    return MTLMAEMoCoV3(**cfg, data_preprocessor=preprocessor)


def views(n: int, seed: int = 0) -> list[torch.Tensor]:
    """``n`` noisy views (8, 3, 32, 32) in [0, 255] of the same random images."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(8, 3, 32, 32, generator=g)
    return [255 * (base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1) for _ in range(n)]


def test_block_gradient_cosines_match_a_manual_computation():
    torch.manual_seed(0)
    model = mtl_nano()
    model.init_weights()
    inputs = views(3)
    ema_before = copy.deepcopy(dict(model.momentum_encoder.named_parameters()))
    params_before = {k: v.detach().clone() for k, v in model.named_parameters()}
    torch.manual_seed(1)
    cosines = block_gradient_cosines(model, inputs)
    assert cosines.shape == (6,) and bool(((cosines >= -1) & (cosines <= 1)).all())
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.momentum_encoder.named_parameters():
        assert torch.equal(v, ema_before[k]), k
    assert all(torch.equal(v, params_before[k]) for k, v in model.named_parameters())

    for block in (0, 5):
        torch.manual_seed(1)  # same random masks
        params = list(model.backbone.layers[block].parameters())
        model.zero_grad()
        model.mim_loss(inputs[0]).backward()
        g_mim = torch.cat([p.grad.flatten() for p in params])
        model.zero_grad()
        model.contrastive_loss(inputs[1], inputs[2], update_momentum=False).backward()
        g_cl = torch.cat([p.grad.flatten() for p in params])
        expected = (g_mim @ g_cl) / (g_mim.norm() * g_cl.norm())
        torch.testing.assert_close(cosines[block], expected, atol=1e-5, rtol=1e-4)


def test_summary_per_block():
    rows = [
        {'batch': 0, 'block': 0, 'cosine': -0.5},
        {'batch': 0, 'block': 1, 'cosine': 0.25},
        {'batch': 1, 'block': 0, 'cosine': 0.5},
        {'batch': 1, 'block': 1, 'cosine': 0.75},
        {'batch': 2, 'block': 0, 'cosine': -0.25},
        {'batch': 2, 'block': 1, 'cosine': -1.0},
    ]
    summary = summarise(rows)
    assert [s['block'] for s in summary] == [0, 1]
    expected = [(-0.25 / 3, -0.5, 0.5, 2 / 3), (0.0, -1.0, 0.75, 1 / 3)]
    for s, (mean, low, high, negative) in zip(summary, expected, strict=True):
        assert s['mean'] == pytest.approx(mean) and (s['min'], s['max']) == (low, high)
        assert s['negative_fraction'] == pytest.approx(negative)
