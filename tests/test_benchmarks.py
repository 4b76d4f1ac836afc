"""The training-step benchmark: the analytic FLOP counts of both sides, lgp's MoCo v3 against mmpretrain's, a smoke
run."""

import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
BATCH = 4


def load_benchmark(name: str):
    """``benchmarks/{name}.py`` as a module (``benchmarks`` is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f'benchmark_{name}', REPO / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flops = load_benchmark('flops')
train_step = load_benchmark('train_step')
NANO = flops.ViTSpec(dims=48, depth=6, mlp_dims=192, img_size=32, patch_size=4)


def benchmark_cfg(algorithm: str, side: str) -> dict:
    """The nano model config the benchmark builds for one side (lgp, or mmpretrain's own classes)."""
    return train_step.model_configs(algorithm, 'nano')[side != 'lgp']


def build(cfg: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def images(seed: int) -> torch.Tensor:
    return torch.rand(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def counted_flops(loss_fn, backward: bool) -> int:
    """FLOPs FlopCounterMode sees in ``loss_fn()`` (and its backward), attention on the math path (matmuls)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss = loss_fn()
        if backward:
            loss.backward()
    return counter.get_total_flops()


@pytest.fixture(autouse=True)
def max_iters():
    """MoCo v3's momentum schedule reads the run length from the message hub, as the runner sets it."""
    MessageHub.get_current_instance().update_info('max_iters', 100)


@pytest.mark.parametrize('side', ['lgp', 'mmpretrain'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mae_flops_match_flop_counter(backward, side):
    """lgp skips the visible patches of the last decoder block (``partial``); mmpretrain's MAE does not."""
    model = build(benchmark_cfg('mae', side))
    decoder = flops.DecoderSpec(dims=64, depth=2, mlp_dims=256)
    expected = flops.mae_flops(NANO, decoder, 0.75, batch=BATCH, train=backward, partial=side == 'lgp')
    assert counted_flops(lambda: model.loss(images(0), None)['loss'], backward) == expected


@pytest.mark.parametrize('side', ['lgp', 'mmpretrain'])
@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mocov3_flops_match_flop_counter(backward, side):
    """lgp runs the last encoder block for the CLS token only (``partial``); mmpretrain's MoCo v3 does not."""
    model = build(benchmark_cfg('mocov3', side))
    expected = flops.mocov3_flops(
        NANO, (48, 128, 128, 32), (32, 128, 32), batch=BATCH, train=backward, partial=side == 'lgp'
    )
    assert counted_flops(lambda: model.loss([images(0), images(1)], None)['loss'], backward) == expected


def test_block_flops_formula():
    """With F = 4D the block count is the textbook 2 N (12 D^2 + 2 N D)."""
    n, d = 197, 768
    assert flops.block_flops(n, d, 4 * d) == 2 * n * (12 * d * d + 2 * n * d)


def test_mocov3_matches_mmpretrain():
    """lgp's MoCo v3 (views as one batch of 2B, the last block for the CLS token only) equals mmpretrain's MoCoV3 +
    MoCoV3ViT (per view, every token): loss, every gradient, the momentum encoder and the BN statistics.

    In float64: the heads' BatchNorm over 4 samples amplifies float32 rounding (the order of the sums differs) to
    1e-3 relative in some gradients. Step 0 copies the online weights into the momentum encoder, step 1 averages
    them. Between the steps both models get the same fixed change of their weights (not a gradient step: MoCo v3 at
    batch 4 is chaotic enough that a 1e-7 change of the weights moves the loss by 1e-3 two SGD steps later).
    """
    lgp_model = build(benchmark_cfg('mocov3', 'lgp')).double()
    reference = build(benchmark_cfg('mocov3', 'mmpretrain')).double()
    reference.load_state_dict(lgp_model.state_dict())
    inputs = [images(0).double(), images(1).double()]
    for step in range(2):
        losses = [model.loss(inputs, None)['loss'] for model in (lgp_model, reference)]
        for loss in losses:
            loss.backward()
        assert_close(losses[0], losses[1], 'loss')
        ref_params = dict(reference.named_parameters())
        for name, param in lgp_model.named_parameters():
            ref_param = ref_params[name]
            assert (param.grad is None) == (ref_param.grad is None) == (not param.requires_grad), name
            if param.requires_grad:
                assert_close(param.grad, ref_param.grad, f'{name} gradient')
            else:  # frozen, or the momentum encoder
                assert_close(param, ref_param, name)
        ref_buffers = dict(reference.named_buffers())
        for name, buffer in lgp_model.named_buffers():
            assert_close(buffer, ref_buffers[name], name)
        generator = torch.Generator().manual_seed(step)
        with torch.no_grad():
            for param, ref_param in zip(lgp_model.parameters(), reference.parameters(), strict=True):
                if param.requires_grad:
                    change = 0.01 * torch.randn(param.shape, generator=generator, dtype=param.dtype)
                    param += change
                    ref_param += change
        lgp_model.zero_grad()
        reference.zero_grad()
    assert lgp_model.momentum_encoder.steps == reference.momentum_encoder.steps == 2


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    """Equal up to float64 rounding: 1e-9 relative, 1e-12 absolute (for gradients that are zero up to rounding)."""
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-12, msg=lambda m: f'{name}: {m}')


def test_quick_benchmark_runs_and_prints_a_ratio(run_tool):
    result = run_tool(['benchmarks/train_step.py', '--quick', '--repeats', '1', '--warmup', '0', '--algorithms', 'mae'])
    out = result.stdout
    assert 'command: python benchmarks/train_step.py --quick' in out
    assert 'machine: CPU:' in out
    header = next(line for line in out.splitlines() if line.startswith('| algorithm'))
    assert 'time ratio lgp/mmpretrain' in header
    row = next(line for line in out.splitlines() if line.startswith('| mae | nano | 64 |'))
    ratio = row.split('|')[header.split('|').index(' time ratio lgp/mmpretrain (min-max) ')]
    assert float(ratio.split()[0]) > 0


def test_fewshot_benchmark_reaches_the_same_optimum_as_scikit_learn(run_tool):
    """A small problem: lgp's L-BFGS and scikit-learn stop at the same objective and predictions."""
    args = ['--train', '400', '--val', '200', '--dims', '32', '--classes', '10', '--noise', '2', '--no-gpu']
    out = run_tool(['benchmarks/fewshot.py', *args]).stdout
    assert 'command: python benchmarks/fewshot.py --train 400' in out and 'machine: CPU:' in out
    header = next(line for line in out.splitlines() if line.startswith('| solver'))
    columns = [c.strip() for c in header.split('|')]
    rows = {
        cells[1]: dict(zip(columns, cells, strict=True))
        for line in out.splitlines()
        if line.startswith('| ') and not line.startswith('| solver')
        for cells in [[c.strip() for c in line.split('|')]]
    }
    lgp_row, sklearn_row = rows['lgp L-BFGS'], rows['scikit-learn lbfgs']
    assert float(sklearn_row['time ratio / scikit-learn']) == 1.0
    assert float(lgp_row['time ratio / scikit-learn']) > 0
    for row in (lgp_row, sklearn_row):
        assert float(row['F(W) - F*']) < 1e-8 and float(row['max abs dF/dW']) <= 1e-9
    assert lgp_row['val top-1'] == sklearn_row['val top-1']
