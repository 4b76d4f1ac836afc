"""The training-step benchmark (benchmarks/train_step.py): the lgp model it times equals its reference (MoCo v3 against
mmpretrain: loss, gradients, momentum encoder, BN statistics; CMAE against itself without its fast path: losses,
gradients, target; ConMIM against itself on mmpretrain's BEiT encoder: loss, gradients, slow model, BN statistics),
both sides of a row get the same optimiser settings, and a quick run prints the table."""

import re
from pathlib import Path
from types import EllipsisType

import pytest
import torch
from benchmark_helpers import benchmark_cfg, build, conmim_samples, images, train_step


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


# lgp's per-block tensors that BEiT's encoder parameterises otherwise (the rest have the same names and shapes)
BEIT_LAYER_KEY = re.compile(r'(.*\blayers\.\d+\.)(attn\.qkv\.bias|attn\.gamma1\.weight|ffn\.gamma2\.weight)')


def beit_parts(key: str, embed_dims: int) -> dict[str, slice | EllipsisType]:
    """Where a tensor of lgp's ConMIM (online or slow encoder) lives in the conmim reference: ``{reference key: the
    part of the lgp tensor it holds}`` (``...``: all of it). lgp's ``qkv.bias`` (3D) is BEiT's ``q_bias`` and
    ``v_bias`` (its k third has no counterpart: a k bias does not change attention); layer scale
    ``attn.gamma1.weight`` / ``ffn.gamma2.weight`` is BEiT's ``gamma_1`` / ``gamma_2``; ``qkv.weight``, the shared
    ``rel_pos_bias.relative_position_bias_table``, the patch embedding, CLS token, norms, MLPs, projector and mask
    token keep their names."""
    match = BEIT_LAYER_KEY.fullmatch(key)
    if match is None:
        return {key: ...}
    prefix, leaf = match.groups()
    if leaf == 'attn.qkv.bias':
        return {f'{prefix}attn.q_bias': slice(0, embed_dims), f'{prefix}attn.v_bias': slice(2 * embed_dims, None)}
    return {prefix + ('gamma_1' if leaf.startswith('attn') else 'gamma_2'): ...}


def conmim_twins(tmp_path: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The nano conmim row in float64: lgp's ConMIM on LGPViT, its weights moved off their initial values (a
    non-zero relative position bias, qkv biases including the k bias lgp has and BEiT lacks, layer scales), and the
    reference, ConMIM on mmpretrain's BEiT encoder, with those weights (:func:`beit_parts`)."""
    lgp_model, reference = (
        build(benchmark_cfg('conmim', side, tmp_path / 'step1.pth')).double() for side in ('lgp', 'reference')
    )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in lgp_model.parameters():
            param += 0.05 * torch.randn(param.shape, generator=generator, dtype=param.dtype)
    dims = lgp_model.backbone.embed_dims
    state = {
        ref_key: value[part]
        for key, value in lgp_model.state_dict().items()
        for ref_key, part in beit_parts(key, dims).items()
    }
    missing, unexpected = reference.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(key.endswith('rel_pos_bias.relative_position_index') for key in missing), missing  # a buffer
    return lgp_model, reference


def test_conmim_matches_its_mmpretrain_beit_reference(tmp_path: Path) -> None:
    """The conmim row's sides: lgp's ConMIM on LGPViT (fused attention with the shared relative position bias as its
    float mask) and on mmpretrain's BEiT encoder (BEiTAttention: explicit q k^T + bias, softmax, q and v biases)
    compute the same function: from the same weights, views, masks and mask token, in float64, the loss, the gradient
    of every shared tensor (the q and v thirds of lgp's qkv bias against BEiT's q_bias and v_bias; the k third's is
    zero), the slow model (copied by its first update) and every BN statistic agree to 1e-9."""
    lgp_model, reference = conmim_twins(tmp_path)
    inputs, samples = [images(0).double(), images(1).double()], conmim_samples()
    losses = [model.loss(inputs, samples)['loss'] for model in (lgp_model, reference)]
    for loss in losses:
        loss.backward()
    assert_close(losses[0], losses[1], 'loss')
    dims = lgp_model.backbone.embed_dims
    ref_params, ref_buffers = dict(reference.named_parameters()), dict(reference.named_buffers())
    compared = set()
    for name, param in lgp_model.named_parameters():
        parts = beit_parts(name, dims)
        compared |= parts.keys()
        for ref_name, part in parts.items():
            ref_param = ref_params[ref_name]
            assert param.requires_grad == ref_param.requires_grad, name
            if param.requires_grad:
                assert_close(param.grad[part], ref_param.grad, f'{name} -> {ref_name} gradient')
            else:  # the slow model
                assert_close(param[part], ref_param, f'{name} -> {ref_name}')
        if param.requires_grad and name.endswith('attn.qkv.bias'):
            assert_close(param.grad[dims : 2 * dims], torch.zeros_like(param[:dims]), f'{name} k third gradient')
    assert compared == ref_params.keys()
    for name, buffer in lgp_model.named_buffers():
        assert_close(buffer, ref_buffers[name], name)
    assert lgp_model.momentum_encoder.steps == reference.momentum_encoder.steps == 1


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    """Equal up to float64 rounding: 1e-9 relative, 1e-12 absolute (for gradients that are zero up to rounding)."""
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-12, msg=lambda m: f'{name}: {m}')


def test_quick_benchmark_runs_and_prints_a_ratio(run_tool) -> None:
    """The mae row against mmpretrain, the cmae row against lgp's CMAE without fast paths and the conmim row against
    lgp's ConMIM on mmpretrain's BEiT encoder, one step each."""
    args = ['--quick', '--repeats', '1', '--warmup', '0', '--algorithms', 'mae', 'cmae', 'conmim']
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
    assert rows.keys() == {'mae', 'cmae', 'conmim'}
    assert rows['mae']['reference'] == 'mmpretrain MAE'
    assert rows['cmae']['reference'] == 'lgp CMAE fast_paths=False'
    assert rows['conmim']['reference'] == 'mmpretrain BEiT encoder'
    for algorithm, row in rows.items():
        assert (row['size'], row['batch']) == ('nano', '64')
        assert float(row['time ratio lgp/reference (min-max)'].split()[0]) > 0
        lgp_flops, ref_flops = float(row['lgp GFLOP/step']), float(row['reference GFLOP/step'])
        if algorithm == 'conmim':  # the same work on both sides
            assert lgp_flops == ref_flops > 0
        else:  # the masked-only decoder block
            assert lgp_flops < ref_flops


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


def test_conmim_sides_get_the_same_lr_and_weight_decay_for_every_tensor(tmp_path: Path) -> None:
    """Both sides of the conmim row get conmim_adamw.py's whole paramwise_cfg, BEiT's parameter names mapped to blocks
    and to the weight-decay rule as lgp's: every reference tensor gets the lr and weight decay of the lgp tensor it
    holds a part of (:func:`beit_parts`), the 1-D ones (biases, layer scales, norms) and the CLS token undecayed, the
    relative position bias table and the mask token decayed, as in the official code."""
    lgp, reference = (optimiser_settings('conmim', side, tmp_path) for side in ('lgp', 'reference'))
    mapped = {ref_name: lgp[name] for name in lgp for ref_name in beit_parts(name, 48)}
    assert mapped == reference
    exempt = ('backbone.cls_token', 'backbone.layers.0.attn.q_bias', 'backbone.layers.0.gamma_1', 'backbone.ln1.bias')
    decayed = ('backbone.rel_pos_bias.relative_position_bias_table', 'mask_token', 'backbone.layers.0.attn.qkv.weight')
    assert [reference[name][1] for name in exempt] == [0.0] * len(exempt)
    assert [reference[name][1] for name in decayed] == [0.05] * len(decayed)
    assert reference['momentum_encoder.module.0.cls_token'] is None  # the slow model is not optimised
