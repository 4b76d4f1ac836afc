"""GraftedOptimWrapperConstructor on mmengine: the param groups, lr and weight decay of every tensor of a real model,
a model's own ``block_lr_groups``, the log, the registration, and what schedules and optimiser steps do with them.

The rules themselves are tested without mmengine in test_lr_schemes.py.
"""

import logging
import math
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, DefaultScope
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS

from lgp.engine.optimizers import GraftedOptimWrapperConstructor
from lgp.models import LGPViT

LR, WD, DEPTH = 1e-3, 0.05, 6  # the nano arch has 6 blocks
LGP_GROUPS = [dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(4, 6), lr_mult=1.0)]
# The parameters of one block, and whether each one is a matrix (decayed by every rule) or 1-D (biases, norms).
BLOCK_PARAMS = {
    'ln1.weight': False, 'ln1.bias': False,
    'attn.qkv.weight': True, 'attn.qkv.bias': False,
    'attn.proj.weight': True, 'attn.proj.bias': False,
    'ln2.weight': False, 'ln2.bias': False,
    'ffn.layers.0.0.weight': True, 'ffn.layers.0.0.bias': False,
    'ffn.layers.1.weight': True, 'ffn.layers.1.bias': False,
}  # fmt: skip
FROZEN = {'backbone.pos_embed', 'backbone.patch_embed.projection.weight', 'backbone.patch_embed.projection.bias'}


class Net(nn.Module):
    """A backbone plus a small neck: the layout of mmpretrain's self-supervisors (``model.backbone``)."""

    def __init__(self, **backbone_kwargs) -> None:
        super().__init__()
        self.backbone = LGPViT('nano', img_size=32, **backbone_kwargs)
        self.neck = nn.Linear(48, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(x)[0])


class GraftedNet(Net):
    """A model that declares its own block lrs, as :class:`lgp.models.algorithms.GraftedMoCoV3` does."""

    def __init__(self, block_lr_groups: list[dict] | None, **backbone_kwargs) -> None:
        super().__init__(**backbone_kwargs)
        self.block_lr_groups = block_lr_groups


def build(model: nn.Module, optimizer: dict | None = None, **paramwise_cfg) -> OptimWrapper:
    optimizer = optimizer or dict(type='AdamW', lr=LR, weight_decay=WD)
    cfg = dict(optimizer=optimizer, constructor=GraftedOptimWrapperConstructor, paramwise_cfg=paramwise_cfg)
    return build_optim_wrapper(model, cfg)


def per_param(optim_wrapper: OptimWrapper, model: nn.Module) -> dict[str, tuple[float, float]]:
    """``{name: (lr, weight_decay)}`` of every parameter in the optimiser; each must appear once."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for group in optim_wrapper.optimizer.param_groups:
        assert group['param_names'] == [names[id(p)] for p in group['params']]
        for p in group['params']:
            assert names[id(p)] not in out
            out[names[id(p)]] = (group['lr'], group['weight_decay'])
    return out


def assert_matches(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for name, (lr, wd) in expected.items():
        assert actual[name][0] == pytest.approx(lr, rel=1e-9), name
        assert actual[name][1] == pytest.approx(wd, rel=1e-9, abs=0), name


def expected_lgp(block_mults: list[float], embed: float, norm: float = 1.0, head: float = 1.0) -> dict:
    """The hand-written expectation for ``Net(stop_grad_patch_embed=True)`` (pos_embed and patch_embed frozen) with
    ``weight_decay_rule='skip_1d_and_tokens'`` (no decay on 1-D tensors and cls_token)."""
    expected = {'backbone.cls_token': (LR * embed, 0.0)}
    for i, mult in enumerate(block_mults):
        for leaf, matrix in BLOCK_PARAMS.items():
            expected[f'backbone.layers.{i}.{leaf}'] = (LR * mult, WD if matrix else 0.0)
    expected['backbone.ln1.weight'] = expected['backbone.ln1.bias'] = (LR * norm, 0.0)
    expected['neck.weight'], expected['neck.bias'] = (LR * head, WD), (LR * head, 0.0)
    return expected


def test_block_groups_give_each_parameter_its_lr_and_decay():
    model = Net(stop_grad_patch_embed=True)
    optim_wrapper = build(model, block_groups=LGP_GROUPS, weight_decay_rule='skip_1d_and_tokens')
    actual = per_param(optim_wrapper, model)
    assert_matches(actual, expected_lgp([0.1] * 4 + [1.0] * 2, embed=0.1))
    assert set(actual) | FROZEN == {n for n, _ in model.named_parameters()}
    assert not FROZEN & set(actual)
    # grouped by (lr_mult, weight decay): {1, 0.1} x {no decay, decay}, the base lr first (mmengine logs group 0)
    groups = optim_wrapper.optimizer.param_groups
    assert [(g['lr_mult'], g['decay_mult']) for g in groups] == [(1.0, 0.0), (1.0, 1.0), (0.1, 0.0), (0.1, 1.0)]
    for g in groups:
        assert g['lr'] == pytest.approx(LR * g['lr_mult']) and g['weight_decay'] == pytest.approx(WD * g['decay_mult'])
    assert groups[2]['layer_id'] == [0, 1, 2, 3, 4] and groups[1]['layer_id'] == [5, 6, 7]
    assert groups[2]['group_name'] == 'embeddings + blocks 0-3' and groups[3]['group_name'] == 'blocks 0-3'


def undecayed(rule: str) -> set[str]:
    """The trained tensors each rule exempts, written from the recipes (see lr_schemes.WEIGHT_DECAY_RULES)."""
    one_d = {f'backbone.layers.{i}.{leaf}' for i in range(DEPTH) for leaf, matrix in BLOCK_PARAMS.items() if not matrix}
    one_d |= {'backbone.patch_embed.projection.bias', 'backbone.ln1.weight', 'backbone.ln1.bias', 'neck.bias'}
    tokens = {'backbone.cls_token', 'backbone.pos_embed'}
    return {'all': set(), 'skip_1d': one_d, 'skip_1d_and_tokens': one_d | tokens}[rule]


@pytest.mark.parametrize('rule', [None, 'all', 'skip_1d', 'skip_1d_and_tokens'])
def test_weight_decay_rule_of_every_tensor(rule):
    """Every tensor trainable (learnable pos_embed, patch_embed); no rule given: 'all' (official MoCo v3)."""
    model = Net(pos_embed_type='learnable')
    actual = per_param(build(model, **({} if rule is None else dict(weight_decay_rule=rule))), model)
    assert set(actual) == {n for n, _ in model.named_parameters()}
    exempt = undecayed(rule or 'all')
    assert exempt <= set(actual)
    assert_matches(actual, {name: (LR, 0.0 if name in exempt else WD) for name in actual})


@pytest.mark.parametrize('values', ['1.5e-5,1.5e-5,1.5e-4', [1.5e-5, 1.5e-5, 1.5e-4]])
def test_lr_layer_wise_flag_of_the_original(values):
    model = Net(stop_grad_patch_embed=True)
    actual = per_param(build(model, lr_layer_wise=values, weight_decay_rule='skip_1d_and_tokens'), model)
    assert_matches(actual, expected_lgp([0.1] * 4 + [1.0] * 2, embed=0.1))


def test_embed_norm_head_multipliers_and_custom_keys():
    model = Net(stop_grad_patch_embed=True)
    custom_keys = {'backbone.layers.0.': dict(lr_mult=2.0), 'neck.weight': dict(decay_mult=0.5)}
    actual = per_param(
        build(
            model,
            block_groups=LGP_GROUPS,
            embed_lr_mult=0.5,
            norm_lr_mult=0.2,
            head_lr_mult=3.0,
            custom_keys=custom_keys,
            weight_decay_rule='skip_1d_and_tokens',
        ),
        model,
    )
    expected = expected_lgp([0.1] * 4 + [1.0] * 2, embed=0.5, norm=0.2, head=3.0)
    for leaf in BLOCK_PARAMS:  # 'backbone.layers.0.' must not catch the ffn.layers.0.* of other blocks
        lr, wd = expected[f'backbone.layers.0.{leaf}']
        expected[f'backbone.layers.0.{leaf}'] = (2.0 * lr, wd)
    expected['neck.weight'] = (3.0 * LR, 0.5 * WD)
    assert_matches(actual, expected)


def layer_id(name: str) -> int:
    """The block map, written out: embeddings 0, block i -> i + 1, final norm L + 1."""
    if name.startswith('layers.'):
        return int(name.split('.')[1]) + 1
    return DEPTH + 1 if name.startswith('ln1.') else 0


@pytest.mark.parametrize('backbone_cls', ['LGPViT', 'VisionTransformer'])
def test_layer_decay(backbone_cls):
    """m = d ** (L + 1 - id) in the backbone (also via mmpretrain's get_layer_depth), 1 outside; the fine-tuning
    rule: no decay on 1-D tensors and tokens."""
    decay = 0.75
    model = Net(pos_embed_type='learnable')
    if backbone_cls == 'VisionTransformer':
        arch = dict(embed_dims=48, num_layers=DEPTH, num_heads=3, feedforward_channels=192)
        model.backbone = VisionTransformer(arch=arch, img_size=32, patch_size=4)
        assert not hasattr(model.backbone, 'layer_id')
    actual = per_param(build(model, layer_decay=decay, weight_decay_rule='skip_1d_and_tokens'), model)
    expected = {'neck.weight': (LR, WD), 'neck.bias': (LR, 0.0)}
    for name, p in model.backbone.named_parameters():
        no_decay = p.ndim == 1 or name in ('cls_token', 'pos_embed')
        expected[f'backbone.{name}'] = (LR * decay ** (DEPTH + 1 - layer_id(name)), 0.0 if no_decay else WD)
    assert_matches(actual, expected)
    assert actual['backbone.patch_embed.projection.weight'][0] == pytest.approx(LR * decay**7)
    assert actual['backbone.pos_embed'][1] == actual['backbone.cls_token'][1] == 0.0


def test_no_block_scheme_and_default_rule_keep_every_multiplier_one():
    model = Net()
    actual = per_param(build(model), model)
    assert {lr for lr, _ in actual.values()} == {LR}
    assert {wd for _, wd in actual.values()} == {WD}  # default rule 'all': cls_token, norms and biases decayed too
    assert len(build(model).optimizer.param_groups) == 1


# ------------------------------------------------------------------------------------- a model's block_lr_groups
def test_a_models_block_lr_groups_are_honoured():
    """The same groups declared by the model give what paramwise_cfg block_groups gives."""
    torch.manual_seed(0)
    declared = GraftedNet(LGP_GROUPS, stop_grad_patch_embed=True)
    actual = per_param(build(declared, weight_decay_rule='skip_1d_and_tokens'), declared)
    assert_matches(actual, expected_lgp([0.1] * 4 + [1.0] * 2, embed=0.1))
    upper_only = GraftedNet([dict(blocks=(0, 6), lr_mult=0.5)], stop_grad_patch_embed=True)
    assert {lr for lr, _ in per_param(build(upper_only), upper_only).values()} == {LR, 0.5 * LR}
    without = GraftedNet(None, stop_grad_patch_embed=True)  # None: no groups of its own (e.g. a frozen lower part)
    assert {lr for lr, _ in per_param(build(without), without).values()} == {LR}
    with_scheme = per_param(build(without, layer_decay=0.5), without)  # allowed: the model sets nothing
    assert with_scheme['backbone.layers.5.attn.qkv.weight'][0] == pytest.approx(0.5 * LR)


@pytest.mark.parametrize(
    'scheme', [dict(block_groups=LGP_GROUPS), dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4'), dict(layer_decay=0.75)]
)
def test_a_models_block_lr_groups_and_a_paramwise_scheme_are_refused(scheme):
    model = GraftedNet(LGP_GROUPS)
    with pytest.raises(
        ValueError,
        match=rf'GraftedNet sets its own block learning rates \(block_lr_groups=.*\); remove paramwise_cfg '
        rf"\['{next(iter(scheme))}'\], or change the model's settings instead",
    ):
        build(model, **scheme)


def test_a_models_block_lr_groups_are_checked():
    with pytest.raises(ValueError, match=r'block_groups leave blocks 4-5 of the 6 blocks .* uncovered'):
        build(GraftedNet([dict(blocks=(0, 4), lr_mult=0.1)]))


# ---------------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize('paramwise_cfg, match', [
    (dict(block_groups=[dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(3, 6), lr_mult=1.0)]),
     r'overlap: block 3 in groups \[0, 1\]'),
    (dict(block_groups=[dict(blocks=(0, 4), lr_mult=0.1)]), r'blocks 4-5 of the 6 blocks .* uncovered.*\(4, 6\)'),
    (dict(block_groups=[dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(4, 8), lr_mult=1.0)]),
     r'block_groups\[1\] has blocks=\(4, 8\), which is empty or out of range: the backbone has 6 blocks'),
    (dict(block_groups=LGP_GROUPS, custom_keys={'neck': dict(lr_mult=2.0), 'projector': dict(lr_mult=2.0)}),
     r"custom_keys \['projector'\] match no parameter"),
    (dict(lr_layer_wise='1e-5,1e-5,1e-5,1e-4'), 'has 4 values but the backbone has 6 blocks'),
    (dict(lr_layer_wise='1e-5,1e-4', layer_decay=0.75), 'give at most one of'),
    (dict(layer_decay_rate=0.75), r"Unknown paramwise_cfg keys \['layer_decay_rate'\]"),
    (dict(no_decay_names=('pos_embed',)), r"Unknown paramwise_cfg keys \['no_decay_names'\].*'weight_decay_rule'"),
    (dict(weight_decay_rule='no_tokens'),
     r"weight_decay_rule must be one of \['all', 'skip_1d', 'skip_1d_and_tokens'\], got 'no_tokens'"),
    (dict(backbone='encoder', layer_decay=0.75), "Net has no attribute 'encoder'"),
])  # fmt: skip
def test_invalid_configs_raise_clear_errors(paramwise_cfg, match):
    with pytest.raises(ValueError, match=match):
        build(Net(), **paramwise_cfg)


def test_options_are_checked_before_any_model_is_seen():
    with pytest.raises(ValueError, match='weight_decay_rule must be one of'):
        GraftedOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=LR)), dict(weight_decay_rule='skip'))


# ------------------------------------------------------------------------------------------------------------ log
@pytest.fixture
def log_records() -> list[logging.LogRecord]:
    logger = MMLogger.get_instance(f'test_grafted_{uuid.uuid4().hex}', log_level='INFO')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_frozen_parameters_are_left_out_and_logged(log_records):
    model = Net(stop_grad_patch_embed=True, frozen_stages=2)
    actual = per_param(build(model, block_groups=LGP_GROUPS), model)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters()} - set(actual)
    assert len(frozen) == 28 and not any(n.startswith(('backbone.layers.2.', 'neck.')) for n in frozen)
    (text,) = [r.getMessage() for r in log_records if 'param groups' in r.getMessage()]
    assert "('all' rule)" in text and 'block_groups' in text
    assert 'blocks 2-3' in text and 'blocks 4-5 + final norm + outside backbone (neck)' in text
    assert 'frozen (requires_grad=False, not optimised): 28 tensors' in text and 'blocks 0-1: 24' in text


def test_zero_lr_and_frozen_only_custom_keys_are_warned_about(log_records):
    model = Net(stop_grad_patch_embed=True)
    build(model, block_groups=[dict(blocks=(0, 4), lr_mult=0.0), dict(blocks=(4, 6), lr_mult=1.0)])
    build(model, custom_keys={'patch_embed': dict(lr_mult=2.0)})
    warnings = [r.getMessage() for r in log_records if r.levelno == logging.WARNING]
    assert any("lr_mult = 0 for ['embeddings + blocks 0-3']" in w and 'requires_grad=False' in w for w in warnings)
    assert any("custom_keys ['patch_embed'] match only frozen parameters" in w for w in warnings)


# --------------------------------------------------------------------------------------------------- registration
def test_registered_once_and_found_from_every_scope():
    name = 'GraftedOptimWrapperConstructor'
    assert OPTIM_WRAPPER_CONSTRUCTORS.module_dict[name] is GraftedOptimWrapperConstructor  # mmengine's root
    for registry in (MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS, MMSEG_OPTIM_WRAPPER_CONSTRUCTORS):
        assert registry.parent is OPTIM_WRAPPER_CONSTRUCTORS and name not in registry.module_dict
        assert registry.get(name) is GraftedOptimWrapperConstructor  # through the root


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmseg'])
def test_a_config_names_it_in_the_scope_of_mmpretrain_and_mmseg(scope):
    model = Net()
    cfg = dict(
        optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
        constructor='GraftedOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay=0.5),
    )
    with DefaultScope.overwrite_default_scope(scope):
        optim_wrapper = build_optim_wrapper(model, cfg)
    lrs = per_param(optim_wrapper, model)
    assert lrs['backbone.layers.5.attn.qkv.weight'][0] == pytest.approx(0.5 * LR)
    assert lrs['backbone.cls_token'][0] == pytest.approx(0.5**7 * LR)


# --------------------------------------------------------------------------------------- schedules and updates
def test_ratios_survive_warmup_and_cosine():
    model = Net(stop_grad_patch_embed=True)
    optim_wrapper = build(model, block_groups=LGP_GROUPS)
    groups = optim_wrapper.optimizer.param_groups
    top = next(k for k, g in enumerate(groups) if g['lr_mult'] == 1.0)
    schedulers = [
        LinearLR(optim_wrapper, start_factor=1e-3, by_epoch=False, begin=0, end=5),
        CosineAnnealingLR(optim_wrapper, by_epoch=False, begin=5, end=20, eta_min=0),
    ]
    top_lrs = []
    for _ in range(20):
        top_lr = groups[top]['lr']
        for g in groups:
            assert g['lr'] == pytest.approx(g['lr_mult'] * top_lr, rel=1e-6)
        top_lrs.append(top_lr)
        optim_wrapper.step()  # no gradients: the optimiser skips every parameter
        for scheduler in schedulers:
            scheduler.step()
    # mmengine's LinearLR reaches the peak at its last step (end - 1); the cosine runs over [5, 20)
    assert top_lrs[0] == pytest.approx(1e-3 * LR)
    assert top_lrs[2] == pytest.approx(LR * (1e-3 + (1 - 1e-3) * 2 / 4))
    assert top_lrs[4] == top_lrs[5] == pytest.approx(LR)
    for t in (8, 12, 19):
        assert top_lrs[t] == pytest.approx(LR * (1 + math.cos(math.pi * (t - 5) / 15)) / 2, rel=1e-6)
    assert all(a > b for a, b in zip(top_lrs[5:], top_lrs[6:], strict=False))


def test_one_adamw_step_moves_each_parameter_by_its_own_lr():
    """Adam's first step moves each element by lr * g / (|g| + eps) ~ lr * sign(g); frozen tensors stay put."""
    torch.manual_seed(0)
    model = Net(stop_grad_patch_embed=True).double().eval()
    model.backbone.layers[0].requires_grad_(False)  # a frozen block inside a 0.1x group
    optimizer = dict(type='AdamW', lr=0.1, weight_decay=0.0, eps=1e-12)
    optim_wrapper = build(model, optimizer=optimizer, block_groups=LGP_GROUPS)
    lrs = {n: lr for n, (lr, _) in per_param(optim_wrapper, model).items()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = model(torch.randn(4, 3, 32, 32, dtype=torch.float64))
    optim_wrapper.backward((out * torch.randn_like(out)).sum())
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    optim_wrapper.step()
    assert sorted({round(lr, 12) for lr in lrs.values()}) == [0.01, 0.1] and len(lrs) == 12 * 5 + 5
    assert set(grads) == set(lrs)
    for name, p in model.named_parameters():
        delta = (p.detach() - before[name]).abs()
        if name not in lrs:
            assert torch.equal(delta, torch.zeros_like(delta)), name
            continue
        moved = grads[name].abs() > 1e-8
        assert moved.any(), name
        torch.testing.assert_close(delta[moved], torch.full_like(delta[moved], lrs[name]), rtol=1e-3, atol=0)
        assert torch.equal(delta[grads[name] == 0], torch.zeros_like(delta[grads[name] == 0])), name
