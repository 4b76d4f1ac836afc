"""The training-step benchmark (benchmarks/train_step.py): the lgp model it times equals its mmpretrain twin (MoCo v3:
loss, gradients, momentum encoder, BN statistics), and a quick run prints the table."""

from pathlib import Path

import pytest
import torch
from benchmark_helpers import benchmark_cfg, build, images, train_step


def test_mocov3_matches_mmpretrain(tmp_path: Path) -> None:
    """lgp's MoCo v3 (views as one batch of 2B, the last block for the CLS token only) equals mmpretrain's MoCoV3 +
    MoCoV3ViT (per view, every token): loss, every gradient, the momentum encoder and the BN statistics.

    In float64: the heads' BatchNorm over 4 samples amplifies float32 rounding (the order of the sums differs) to
    1e-3 relative in some gradients. Step 0 copies the online weights into the momentum encoder, step 1 averages
    them. Between the steps both models get the same fixed change of their weights (not a gradient step: MoCo v3 at
    batch 4 is chaotic enough that a 1e-7 change of the weights moves the loss by 1e-3 two SGD steps later).
    """
    lgp_model = build(benchmark_cfg('mocov3', 'lgp', tmp_path / 'step1.pth')).double()
    reference = build(benchmark_cfg('mocov3', 'mmpretrain', tmp_path / 'step1.pth')).double()
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


def test_quick_benchmark_runs_and_prints_a_ratio(run_tool) -> None:
    result = run_tool(['benchmarks/train_step.py', '--quick', '--repeats', '1', '--warmup', '0', '--algorithms', 'mae'])
    out = result.stdout
    assert 'command: python benchmarks/train_step.py --quick' in out
    assert 'machine: CPU:' in out
    header = next(line for line in out.splitlines() if line.startswith('| algorithm'))
    assert 'time ratio lgp/mmpretrain' in header
    row = next(line for line in out.splitlines() if line.startswith('| mae | nano | 64 |'))
    ratio = row.split('|')[header.split('|').index(' time ratio lgp/mmpretrain (min-max) ')]
    assert float(ratio.split()[0]) > 0


def test_grafted_sides_get_the_same_lr_and_weight_decay_for_every_tensor(tmp_path: Path) -> None:
    """The timed comparison is fair: lgp's GraftedMoCoV3 (lr groups from its graft) and mmpretrain's MoCoV3 (the
    original's ``lr_layer_wise``) get the same lr and weight decay for each tensor, the lower blocks at 0.1x."""
    settings = []
    for side in ('lgp', 'mmpretrain'):
        model = build(benchmark_cfg('grafted', side, tmp_path / 'step1.pth'))
        optimizer = train_step.build_optim_wrapper(model, 'grafted', 'cpu', False, lgp=side == 'lgp').optimizer
        by_id = {id(p): (g['lr'], g['weight_decay']) for g in optimizer.param_groups for p in g['params']}
        settings.append({name: by_id.get(id(p)) for name, p in model.named_parameters()})
    assert settings[0] == settings[1]
    lrs = settings[0]
    assert lrs['backbone.layers.3.attn.qkv.weight'][0] == pytest.approx(
        0.1 * lrs['backbone.layers.4.attn.qkv.weight'][0]
    )
    assert lrs['neck.fc0.weight'][0] == lrs['backbone.layers.4.attn.qkv.weight'][0]
