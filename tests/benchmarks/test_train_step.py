"""The training-step benchmark (benchmarks/train_step.py): the lgp model it times equals its reference (MoCo v3 against
mmpretrain: loss, gradients, momentum encoder, BN statistics; CMAE against itself without its fast path: losses,
gradients, target), both sides of a row get the same optimiser settings, and a quick run prints the table."""

from pathlib import Path

import pytest
import torch
from benchmark_helpers import benchmark_cfg, build, images, train_step


def benchmark_twins(algorithm: str, tmp_path: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The nano lgp model of a row and its reference in float64, the reference with the lgp model's weights."""
    lgp_model, reference = (
        build(benchmark_cfg(algorithm, side, tmp_path / 'step1.pth')).double() for side in ('lgp', 'reference')
    )
    reference.load_state_dict(lgp_model.state_dict())
    return lgp_model, reference


def assert_same_step(lgp_model: torch.nn.Module, reference: torch.nn.Module, inputs: list[torch.Tensor]) -> None:
    """Each model's loss on ``inputs`` and its backward pass, from the same random state (CMAE: the same masks):
    every loss term, the gradient of every trained parameter, every other parameter (frozen, or the momentum
    encoder after its update) and every buffer (BN statistics) agree."""
    losses = []
    for model in (lgp_model, reference):
        torch.manual_seed(0)
        terms = model.loss(inputs, None)
        sum(terms.values()).backward()
        losses.append(terms)
    assert losses[0].keys() == losses[1].keys()
    for key, loss in losses[0].items():
        assert_close(loss, losses[1][key], key)
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


def test_mocov3_matches_mmpretrain(tmp_path: Path) -> None:
    """lgp's MoCo v3 (views as one batch of 2B, the last block for the CLS token only) equals mmpretrain's MoCoV3 +
    MoCoV3ViT (per view, every token): loss, every gradient, the momentum encoder and the BN statistics.

    In float64: the heads' BatchNorm over 4 samples amplifies float32 rounding (the order of the sums differs) to
    1e-3 relative in some gradients. Step 0 copies the online weights into the momentum encoder, step 1 averages
    them. Between the steps both models get the same fixed change of their weights (not a gradient step: MoCo v3 at
    batch 4 is chaotic enough that a 1e-7 change of the weights moves the loss by 1e-3 two SGD steps later).
    """
    lgp_model, reference = benchmark_twins('mocov3', tmp_path)
    inputs = [images(0).double(), images(1).double()]
    for step in range(2):
        assert_same_step(lgp_model, reference, inputs)
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


def test_cmae_fast_path_matches_its_plain_reference(tmp_path: Path) -> None:
    """The cmae row's sides: lgp's CMAE (the last pixel-decoder block and prediction for the masked patches only)
    and the same with ``fast_paths=False`` (every patch) give the same losses, gradients, target encoder (copied by
    the first update) and BN statistics on one step from the same weights and masks, in float64."""
    lgp_model, reference = benchmark_twins('cmae', tmp_path)
    assert lgp_model.fast_paths and not reference.fast_paths
    assert_same_step(lgp_model, reference, [images(0).double(), images(1).double()])
    assert lgp_model.momentum_encoder.steps == reference.momentum_encoder.steps == 1


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    """Equal up to float64 rounding: 1e-9 relative, 1e-12 absolute (for gradients that are zero up to rounding)."""
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-12, msg=lambda m: f'{name}: {m}')


def test_quick_benchmark_runs_and_prints_a_ratio(run_tool) -> None:
    """The mae row against mmpretrain and the cmae row against lgp's CMAE without fast paths, one step each."""
    args = ['--quick', '--repeats', '1', '--warmup', '0', '--algorithms', 'mae', 'cmae']
    out = run_tool(['benchmarks/train_step.py', *args]).stdout
    assert 'command: python benchmarks/train_step.py --quick' in out
    assert 'machine: CPU:' in out
    header = next(line for line in out.splitlines() if line.startswith('| algorithm'))
    columns = [c.strip() for c in header.split('|')]
    rows = {
        cells[1]: dict(zip(columns, cells, strict=True))
        for line in out.splitlines()
        if line.startswith('| ') and not line.startswith('| algorithm')
        for cells in [[c.strip() for c in line.split('|')]]
    }
    assert rows.keys() == {'mae', 'cmae'}
    assert rows['mae']['reference'] == 'mmpretrain MAE'
    assert rows['cmae']['reference'] == 'lgp CMAE fast_paths=False'
    for row in rows.values():
        assert (row['size'], row['batch']) == ('nano', '64')
        assert float(row['time ratio lgp/reference (min-max)'].split()[0]) > 0
        assert float(row['lgp GFLOP/step']) < float(row['reference GFLOP/step'])  # the masked-only decoder block


def optimiser_settings(algorithm: str, side: str, tmp_path: Path) -> dict[str, tuple[float, float] | None]:
    """The (lr, weight decay) the benchmark's optimiser gives each parameter of one side (``None``: not optimised)."""
    model = build(benchmark_cfg(algorithm, side, tmp_path / 'step1.pth'))
    optimizer = train_step.build_optim_wrapper(model, algorithm, 'cpu', False).optimizer
    by_id = {id(p): (g['lr'], g['weight_decay']) for g in optimizer.param_groups for p in g['params']}
    return {name: by_id.get(id(p)) for name, p in model.named_parameters()}


def test_grafted_sides_get_the_same_lr_and_weight_decay_for_every_tensor(tmp_path: Path) -> None:
    """The timed comparison is fair: lgp's GraftedMoCoV3 (lr groups from its graft) and mmpretrain's MoCoV3 (the
    original's ``lr_layer_wise``) get the same lr and weight decay for each tensor, the lower blocks at 0.1x."""
    lrs = optimiser_settings('grafted', 'lgp', tmp_path)
    assert lrs == optimiser_settings('grafted', 'reference', tmp_path)
    assert lrs['backbone.layers.3.attn.qkv.weight'][0] == pytest.approx(
        0.1 * lrs['backbone.layers.4.attn.qkv.weight'][0]
    )
    assert lrs['neck.fc0.weight'][0] == lrs['backbone.layers.4.attn.qkv.weight'][0]


def test_cmae_sides_get_the_schedules_custom_keys(tmp_path: Path) -> None:
    """Both sides of the cmae row get cmae_adamw.py's whole paramwise_cfg: weight decay on every tensor but those its
    ``custom_keys`` exempt (norms, biases, tokens), the heads' BN weights decayed as in the official code."""
    settings = optimiser_settings('cmae', 'lgp', tmp_path)
    assert settings == optimiser_settings('cmae', 'reference', tmp_path)
    exempt = ('backbone.cls_token', 'backbone.layers.0.ln1.weight', 'neck.mask_token', 'projector.fc0.bias')
    decayed = ('backbone.layers.0.attn.qkv.weight', 'projector.bn0.weight', 'contrast_head.predictor.fc0.weight')
    assert [settings[name][1] for name in exempt] == [0.0] * len(exempt)
    assert [settings[name][1] for name in decayed] == [0.05] * len(decayed)
