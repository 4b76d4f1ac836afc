"""The gradient conflict C_MIM,CL per block (lgp.analysis.gradient_conflict, the paper's Figure 1): the per-batch and
per-sample cosines against manual computations, the per-block summary and the trend with depth (Spearman
correlations, bootstrap support, the sentence) against hand computations, numpy and scipy."""

import copy
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.models.utils import SelfSupDataPreprocessor

from lgp.analysis.gradient_conflict import (
    _spearman,
    block_gradient_cosines,
    depth_trend,
    sample_gradient_cosines,
    summarise_gradient_conflict,
)
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
    torch.manual_seed(0)
    model = MTLMAEMoCoV3(**cfg, data_preprocessor=preprocessor)
    model.init_weights()
    return model


def views(n: int, batch: int = 8, seed: int = 0) -> list[torch.Tensor]:
    """``n`` noisy views (batch, 3, 32, 32) in [0, 255] of the same random images."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(batch, 3, 32, 32, generator=g)
    return [255 * (base + 0.1 * torch.randn(base.shape, generator=g)).clamp(0, 1) for _ in range(n)]


def block_grad(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params, retain_graph=True)])


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b) / (a.norm() * b.norm())


def test_block_gradient_cosines_match_a_manual_computation():
    model = mtl_nano()
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
        torch.testing.assert_close(cosines[block], cosine(g_mim, g_cl), atol=1e-5, rtol=1e-4)


def test_sample_gradient_cosines_match_per_sample_losses_written_out():
    """Each sample's MAE term and symmetric-InfoNCE rows, written out from the batch's forward passes (plain MAE
    decoder, per-view projector), give the per-sample gradients of a block; their cosines are the measure's."""
    model = mtl_nano()
    model.train()
    batch, block = 4, 5
    mim_view, cl_view_1, cl_view_2 = inputs = views(3, batch=batch)
    ema_before = copy.deepcopy(dict(model.momentum_encoder.named_parameters()))
    params_before = {k: v.detach().clone() for k, v in model.named_parameters()}
    torch.manual_seed(1)
    cosines = sample_gradient_cosines(model, inputs)
    assert cosines.shape == (batch, 6) and bool(((cosines >= -1) & (cosines <= 1)).all())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, ema_before[k]) for k, v in model.momentum_encoder.named_parameters())
    assert all(torch.equal(v, params_before[k]) for k, v in model.named_parameters())
    assert model.head.loss_module.reduction == 'mean'

    # MAE: the masks of one (B, L) draw equal those of B draws of (1, L), as the measure's batch-1 calls make them.
    torch.manual_seed(1)
    latent, mask, ids_restore = model.backbone(mim_view, mask=True)
    pred = model.mim_neck(latent, ids_restore)
    target = model.mim_head.construct_target(mim_view)
    mim_terms = ((pred - target) ** 2).mean(-1).mul(mask).sum(1) / mask.sum(1)  # (B,)
    torch.manual_seed(1)
    torch.testing.assert_close(mim_terms.mean(), model.mim_loss(mim_view))

    # MoCo v3: row i of 2T CE(q1 k2^T / T) plus row i of 2T CE(q2 k1^T / T), the other images as negatives.
    head = model.head

    def infonce_rows(online_view: torch.Tensor, momentum_view: torch.Tensor) -> torch.Tensor:
        pred = F.normalize(head.predictor([model.neck(model.backbone(online_view))[0]])[0], dim=1)
        with torch.no_grad():
            key = F.normalize(model.momentum_encoder(momentum_view)[0], dim=1)
        logits = pred @ key.T / head.temperature
        return head.loss_module.loss_weight * F.cross_entropy(logits, torch.arange(batch), reduction='none')

    cl_terms = infonce_rows(cl_view_1, cl_view_2) + infonce_rows(cl_view_2, cl_view_1)  # (B,)
    torch.testing.assert_close(cl_terms.mean(), model.contrastive_loss(cl_view_1, cl_view_2, update_momentum=False))

    params = list(model.backbone.layers[block].parameters())
    for i in range(batch):
        expected = cosine(block_grad(mim_terms[i], params), block_grad(cl_terms[i], params))
        torch.testing.assert_close(cosines[i, block], expected, atol=1e-5, rtol=1e-4)
    assert len(set(cosines[:, block].tolist())) == batch  # one value per sample, not one per batch


def test_sample_gradient_cosines_need_negatives():
    with pytest.raises(ValueError, match='got a batch of 1, use a batch size of at least 2'):
        sample_gradient_cosines(mtl_nano(), views(3, batch=1))


def rows_of(cosines_per_block: list[list[float]]) -> list[dict]:
    """Measurement rows from a list of per-block cosine lists (sample j of every block is one image)."""
    return [
        {'sample': j, 'block': block, 'cosine': c}
        for block, values in enumerate(cosines_per_block)
        for j, c in enumerate(values)
    ]


GROWING = [
    [-0.5, 0.5, -0.25, 0.25, 1.0, 0.75],  # median 0.375, 2 of 6 negative
    [0.1, -0.2, -0.3, 0.4, 0.2, 0.3],  # median 0.15, 2 of 6 negative
    [-0.1, -0.2, -0.4, 0.3, -0.6, 0.5],  # median -0.15, 4 of 6 negative
]


def test_summary_per_block():
    summary = summarise_gradient_conflict(rows_of(GROWING))
    # block 0 sorted: -0.5 -0.25 0.25 0.5 0.75 1.0; quartile positions 1.25, 2.5, 3.75 (linear interpolation)
    expected = [
        dict(block=0, n=6, mean=1.75 / 6, median=0.375, q1=-0.25 + 0.25 * 0.5, q3=0.5 + 0.75 * 0.25),
        dict(block=1, n=6, mean=0.5 / 6, median=0.15, q1=-0.2 + 0.25 * 0.3, q3=0.2 + 0.75 * 0.1),
        dict(block=2, n=6, mean=-0.5 / 6, median=-0.15, q1=-0.4 + 0.25 * 0.2, q3=-0.1 + 0.75 * 0.4),
    ]
    for s, e, negative in zip(summary, expected, (2 / 6, 2 / 6, 4 / 6), strict=True):
        assert s == pytest.approx(dict(e, negative_share=negative))


def bootstrap_support(cosines_per_block: list[list[float]], resamples: int) -> float:
    """Share of resamples (drawn as depth_trend documents) whose median falls and negative share rises with depth,
    by numpy and scipy."""
    table = np.array(cosines_per_block).T  # (samples, blocks)
    generator = torch.Generator().manual_seed(0)
    growing = 0
    for _ in range(resamples):
        resampled = table[torch.randint(len(table), (len(table),), generator=generator).numpy()]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # a constant column: NaN, which says nothing
            rho_median = scipy.stats.spearmanr(range(table.shape[1]), np.median(resampled, axis=0)).statistic
            rho_negative = scipy.stats.spearmanr(range(table.shape[1]), (resampled < 0).mean(0)).statistic
        growing += bool(rho_median < 0 < rho_negative)
    return growing / resamples


def test_a_clear_growth_with_depth_is_said_so():
    g = torch.Generator().manual_seed(0)
    noise = (0.2 * torch.rand(30, generator=g) - 0.1).tolist()
    # blocks 0, 1, 2 around 0.2, 0, -0.2 with disjoint ranges: every resample's medians fall, its negative shares rise
    trend = depth_trend(rows_of([[u + 0.2 - 0.2 * block for u in noise] for block in range(3)]))
    assert trend['rho_median'] == pytest.approx(-1.0) and trend['rho_negative_share'] == pytest.approx(1.0)
    assert trend['support'] == 1.0 and trend['grows'] is True
    assert trend['sentence'] == (
        'Over the 3 blocks, the median C_MIM,CL falls with depth (Spearman rho = -1.00) and the share of negative '
        'values rises with depth (Spearman rho = +1.00): the conflict grows with depth here (a growing conflict in '
        '100% of 1000 bootstrap resamples of the 30 samples, 95% needed).'
    )


def test_a_growth_of_few_samples_needs_bootstrap_support():
    trend = depth_trend(rows_of(GROWING), resamples=200)
    # medians 0.375 > 0.15 > -0.15: rho = -1; negative shares 1/3, 1/3, 2/3: ranks 1.5, 1.5, 3
    assert trend['rho_median'] == pytest.approx(-1.0)
    assert trend['rho_negative_share'] == pytest.approx(scipy.stats.spearmanr([0, 1, 2], [1, 1, 2]).statistic)
    assert trend['support'] == bootstrap_support(GROWING, 200)
    assert trend['support'] < 0.95 and trend['grows'] is False  # six samples do not carry the trend
    assert trend['sentence'] == (
        'Over the 3 blocks, the median C_MIM,CL falls with depth (Spearman rho = -1.00) and the share of negative '
        'values rises with depth (Spearman rho = +0.87): the conflict does not grow with depth here (a growing '
        f'conflict in {trend["support"]:.0%} of 200 bootstrap resamples of the 6 samples, 95% needed).'
    )


def test_conflict_shrinking_or_flat_with_depth_is_not_called_growing():
    shrinking = depth_trend(rows_of([[-c for c in values] for values in GROWING]), resamples=200)
    assert shrinking['rho_median'] == pytest.approx(1.0) and shrinking['rho_negative_share'] < 0
    assert shrinking['grows'] is False and 'the conflict does not grow with depth here' in shrinking['sentence']

    # the medians fall, but every block has one negative value in four: the share points nowhere
    flat_share = depth_trend(rows_of([[0.9, 0.8, 0.7, -0.1], [0.5, 0.4, 0.3, -0.2]]), resamples=200)
    assert flat_share['rho_median'] == pytest.approx(-1.0) and flat_share['rho_negative_share'] is None
    assert flat_share['grows'] is False
    assert (
        'the share of negative values is the same in every block: the conflict does not grow'
        in (flat_share['sentence'])
    )


def test_depth_trend_refuses_one_block_and_incomplete_rows():
    with pytest.raises(ValueError, match='at least two blocks; the rows have 1'):
        depth_trend(rows_of([[0.1, -0.2]]))
    with pytest.raises(ValueError, match=r'missing \(sample, block\): \[\(1, 1\)\]'):
        depth_trend(rows_of([[0.1, -0.2], [0.3, -0.4]])[:-1])


def test_spearman_with_ties_matches_scipy():
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([0.0, 1, 1, 2, 3, 3, 3, 4, 5], dtype=torch.float64)  # ties on both sides
    y = torch.randint(0, 4, (5, 9), generator=g).double()
    rho = _spearman(x, y)
    for row, value in zip(y, rho, strict=True):
        assert value.item() == pytest.approx(scipy.stats.spearmanr(x, row).statistic, abs=1e-12)
    assert _spearman(x, torch.full((9,), 0.5, dtype=torch.float64)).isnan()
