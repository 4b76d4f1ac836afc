"""The analytic FLOP counts of benchmarks/flops.py: the block formula, and each algorithm's count on both sides of the
training-step benchmark against torch's FlopCounterMode."""

from pathlib import Path

import pytest
from benchmark_helpers import BATCH, benchmark_cfg, build, images, load_benchmark
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

flops = load_benchmark('flops')
NANO = flops.ViTSpec(dims=48, depth=6, mlp_dims=192, img_size=32, patch_size=4)


def counted_flops(loss_fn, backward: bool) -> int:
    """FLOPs FlopCounterMode sees in ``loss_fn()`` (and its backward), attention on the math path (matmuls)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss = loss_fn()
        if backward:
            loss.backward()
    return counter.get_total_flops()


@pytest.mark.parametrize('side', ['lgp', 'mmpretrain'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mae_flops_match_flop_counter(backward: bool, side: str, tmp_path: Path) -> None:
    """lgp skips the visible patches of the last decoder block (``partial``); mmpretrain's MAE does not."""
    model = build(benchmark_cfg('mae', side, tmp_path / 'step1.pth'))
    decoder = flops.DecoderSpec(dims=64, depth=2, mlp_dims=256)
    expected = flops.mae_flops(NANO, decoder, 0.75, batch=BATCH, train=backward, partial=side == 'lgp')
    assert counted_flops(lambda: model.loss(images(0), None)['loss'], backward) == expected


@pytest.mark.parametrize('side', ['lgp', 'mmpretrain'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mocov3_flops_match_flop_counter(backward: bool, side: str, tmp_path: Path) -> None:
    """lgp runs the last encoder block for the CLS token only (``partial``); mmpretrain's MoCo v3 does not."""
    model = build(benchmark_cfg('mocov3', side, tmp_path / 'step1.pth'))
    expected = flops.mocov3_flops(
        NANO, (48, 128, 128, 32), (32, 128, 32), batch=BATCH, train=backward, partial=side == 'lgp'
    )
    assert counted_flops(lambda: model.loss([images(0), images(1)], None)['loss'], backward) == expected


def test_block_flops_formula() -> None:
    """With F = 4D the block count is the textbook 2 N (12 D^2 + 2 N D)."""
    n, d = 197, 768
    assert flops.block_flops(n, d, 4 * d) == 2 * n * (12 * d * d + 2 * n * d)
