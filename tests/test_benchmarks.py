"""The training-step benchmark: its analytic FLOP counts, the fused-view MoCo v3 loss it motivated, and a smoke run."""

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.models.selfsup import MoCoV3 as MMPretrainMoCoV3
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
BATCH = 4


def load_flops():
    """``benchmarks/flops.py`` as a module (``benchmarks`` is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location('benchmark_flops', REPO / 'benchmarks' / 'flops.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flops = load_flops()
NANO = flops.ViTSpec(dims=48, depth=6, mlp_dims=192, img_size=32, patch_size=4)


def nano_cfg(name: str) -> dict:
    """A nano model config of ``configs/_base_/models`` with the runner's data preprocessor."""
    cfg = copy.deepcopy(Config.fromfile(REPO / 'configs' / '_base_' / 'models' / name).model.to_dict())
    return dict(cfg, data_preprocessor=dict(type=SelfSupDataPreprocessor, mean=[0, 0, 0], std=[1, 1, 1]))


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


@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mae_flops_match_flop_counter(backward):
    model = build(nano_cfg('mae_vit_nano.py'))
    decoder = flops.DecoderSpec(dims=64, depth=2, mlp_dims=256)
    expected = flops.mae_flops(NANO, decoder, mask_ratio=0.75, batch=BATCH, train=backward)
    assert counted_flops(lambda: model.loss(images(0), None)['loss'], backward) == expected


@pytest.mark.parametrize('backward', [False, True], ids=['forward', 'train_step'])
def test_mocov3_flops_match_flop_counter(backward):
    model = build(nano_cfg('mocov3_vit_nano.py'))
    expected = flops.mocov3_flops(NANO, (48, 128, 128, 32), (32, 128, 32), batch=BATCH, train=backward)
    assert counted_flops(lambda: model.loss([images(0), images(1)], None)['loss'], backward) == expected


def test_block_flops_formula():
    """With F = 4D the block count is the textbook 2 N (12 D^2 + 2 N D)."""
    n, d = 197, 768
    assert flops.block_flops(n, d, 4 * d) == 2 * n * (12 * d * d + 2 * n * d)


def test_fused_views_match_mmpretrain_per_view():
    """lgp's one-batch-of-2B MoCo v3 loss equals mmpretrain's per-view one: loss, every gradient, BN statistics.

    Step 0 copies the online weights into the momentum encoder, step 1 averages them. Between the steps both models
    get the same fixed change of their weights (not a gradient step: MoCo v3 at batch 4 is chaotic enough that a
    1e-7 change of the weights moves the loss by 1e-3 two SGD steps later).
    """
    cfg = nano_cfg('mocov3_vit_nano.py')
    lgp_model = build(cfg)
    reference = build(dict(cfg, type=MMPretrainMoCoV3))
    reference.load_state_dict(lgp_model.state_dict())
    inputs = [images(0), images(1)]
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
                    change = 0.01 * torch.randn(param.shape, generator=generator)
                    param += change
                    ref_param += change
        lgp_model.zero_grad()
        reference.zero_grad()
    assert lgp_model.momentum_encoder.steps == reference.momentum_encoder.steps == 2


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    """Equal up to float32 rounding: 1e-5 relative, 1e-5 absolute (for gradients that are zero up to rounding)."""
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5, msg=lambda m: f'{name}: {m}')


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
