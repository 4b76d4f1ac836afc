"""The analytic FLOP counts of benchmarks/flops.py: the block formula, the masking's kept patches, and each
algorithm's count (MAE, MoCo v3, CMAE, ConMIM) on both sides of the training-step benchmark against torch's
FlopCounterMode."""

from pathlib import Path

import pytest
import torch
from benchmark_helpers import BATCH, benchmark_cfg, build, conmim_samples, images, load_benchmark
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from lgp.models.backbones.vit import random_masking

flops = load_benchmark('flops')
NANO = flops.ViTSpec(dims=48, depth=6, mlp_dims=192, img_size=32, patch_size=4)
NANO_DECODER = flops.DecoderSpec(dims=64, depth=2, mlp_dims=256)


def counted_flops(loss_fn, backward: bool) -> int:
    """FLOPs FlopCounterMode sees in ``loss_fn()`` (and its backward), attention on the math path (matmuls)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss = loss_fn()
        if backward:
            loss.backward()
    return counter.get_total_flops()


@pytest.mark.parametrize('side', ['lgp', 'reference'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mae_flops_match_flop_counter(backward: bool, side: str, tmp_path: Path) -> None:
    """lgp skips the visible patches of the last decoder block (``partial``); mmpretrain's MAE does not."""
    model = build(benchmark_cfg('mae', side, tmp_path / 'step1.pth'))
    expected = flops.mae_flops(NANO, NANO_DECODER, 0.75, batch=BATCH, train=backward, partial=side == 'lgp')
    assert counted_flops(lambda: model.loss(images(0), None)['loss'], backward) == expected


@pytest.mark.parametrize('side', ['lgp', 'reference'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mocov3_flops_match_flop_counter(backward: bool, side: str, tmp_path: Path) -> None:
    """lgp runs the last encoder block for the CLS token only (``partial``); mmpretrain's MoCo v3 does not."""
    model = build(benchmark_cfg('mocov3', side, tmp_path / 'step1.pth'))
    expected = flops.mocov3_flops(
        NANO, (48, 128, 128, 32), (32, 128, 32), batch=BATCH, train=backward, partial=side == 'lgp'
    )
    assert counted_flops(lambda: model.loss([images(0), images(1)], None)['loss'], backward) == expected


@pytest.mark.parametrize('side', ['lgp', 'reference'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_cmae_flops_match_flop_counter(backward: bool, side: str, tmp_path: Path) -> None:
    """lgp's CMAE (``fast_paths=True``) runs the last pixel-decoder block for the masked patches only (``partial``);
    the reference (``fast_paths=False``) does not. The online encoder sees 5 of the 16 2x2 squares (20 of 64
    patches), the target encoder all 64; the target update (a lerp) and the losses are element-wise, not counted."""
    model = build(benchmark_cfg('cmae', side, tmp_path / 'step1.pth'))
    assert model.fast_paths == (side == 'lgp')
    expected = flops.cmae_flops(
        NANO,
        NANO_DECODER,
        NANO_DECODER,
        projector=(48, 128, 32),
        predictor=(32, 128, 32),
        mask_ratio=0.65,
        mask_unit=2,
        batch=BATCH,
        train=backward,
        partial=side == 'lgp',
    )
    assert counted_flops(lambda: sum(model.loss([images(0), images(1)], None).values()), backward) == expected


@pytest.mark.parametrize('side', ['lgp', 'reference'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_conmim_flops_match_flop_counter(backward: bool, side: str, tmp_path: Path) -> None:
    """Both sides of the conmim row (lgp's BEiT-style LGPViT, attention by the fused kernel with the relative position
    bias as its mask, here on the math path; mmpretrain's BEiT encoder, explicit q k^T and A v) do the same matrix
    products: the online encoder and projector on all 64 patches of the corrupted view, forward and backward (the
    mask token replacement is element-wise), the slow ones on the full view, forward only, and the 4 per-image
    64 x 64 logit matrices; the relative position bias, softmax and the slow model's update are not counted."""
    model = build(benchmark_cfg('conmim', side, tmp_path / 'step1.pth'))
    assert type(model.backbone).__name__ == ('LGPViT' if side == 'lgp' else 'BEiTConMIMEncoder')
    expected = flops.conmim_flops(NANO, (48, 128, 128, 32), batch=BATCH, train=backward)
    samples = conmim_samples()
    assert counted_flops(lambda: model.loss([images(0), images(1)], samples)['loss'], backward) == expected


@pytest.mark.parametrize(
    ('side', 'mask_ratio', 'mask_unit', 'kept'), [(14, 0.75, 1, 49), (14, 0.65, 2, 68), (8, 0.65, 2, 20)]
)
def test_kept_patches_match_the_masking(side: int, mask_ratio: float, mask_unit: int, kept: int) -> None:
    """L_keep as lgp's masking keeps it: MAE's 25 % of single patches, CMAE's 35 % of 2x2 squares rounded down
    (ViT-B/16: 17 of 49 squares, 68 of 196 patches; nano: 5 of 16, 20 of 64)."""
    tokens = torch.zeros(1, side * side, 1)
    visible = random_masking(tokens, mask_ratio, unit=mask_unit, grid=(side, side))[0].shape[1]
    assert flops.kept_patches(side * side, mask_ratio, mask_unit) == visible == kept


def test_block_flops_formula() -> None:
    """With F = 4D the block count is the textbook 2 N (12 D^2 + 2 N D)."""
    n, d = 197, 768
    assert flops.block_flops(n, d, 4 * d) == 2 * n * (12 * d * d + 2 * n * d)
