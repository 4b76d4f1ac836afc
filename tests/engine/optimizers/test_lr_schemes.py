"""The lr and weight-decay rules of lgp.engine.optimizers.lr_schemes, as pure functions: no model, no mmengine.

Parameters are described by hand as :class:`ParamSite`s of a 6-block ViT (the nano arch) with a neck, placed by a
block map written out here (embeddings 0, block i -> i + 1, final norm L + 1); every expectation is written by hand.
"""

import math

import pytest

from lgp.engine.optimizers.lr_schemes import (
    WEIGHT_DECAY_RULES,
    ParamSite,
    assign_multipliers,
    block_group_multipliers,
    block_multipliers,
    check_options,
    format_table,
    frozen_summary,
    group_sites,
    layer_wise_block_groups,
    locate,
    parse_lr_layer_wise,
)

L = 6
LGP_GROUPS = [dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(4, 6), lr_mult=1.0)]


def layer_id(name: str) -> int:
    """The block map of a ViT backbone, written out."""
    if name in ('cls_token', 'pos_embed') or name.startswith('patch_embed.'):
        return 0
    if name.startswith('layers.'):
        return int(name.split('.')[1]) + 1
    return L + 1


def site(name: str, ndim: int, trainable: bool = True, numel: int = 10) -> ParamSite:
    """A parameter of the model ``backbone.*`` (the ViT) + ``neck.*``, placed by :func:`locate`."""
    backbone_name = name.removeprefix('backbone.') if name.startswith('backbone.') else None
    return ParamSite(name, ndim, numel, trainable, *locate(name, backbone_name, layer_id, L))


def vit_sites() -> list[ParamSite]:
    """One tensor of each kind: tokens, patch embedding, a matrix and a 1-D tensor per block, final norm, neck."""
    sites = [
        site('backbone.cls_token', 3),
        site('backbone.pos_embed', 3),
        site('backbone.mask_token', 3),
        site('backbone.patch_embed.projection.weight', 4),
        site('backbone.patch_embed.projection.bias', 1),
    ]
    for i in range(L):
        sites += [site(f'backbone.layers.{i}.attn.qkv.weight', 2), site(f'backbone.layers.{i}.ln1.bias', 1)]
    sites += [site('backbone.ln1.weight', 1), site('neck.weight', 2), site('neck.bias', 1)]
    return sites


def options(**paramwise_cfg) -> dict:
    return check_options(paramwise_cfg)


# ------------------------------------------------------------------------------------------------- lr_layer_wise
@pytest.mark.parametrize('values', ['1.5e-5,1.5e-5,1.5e-4', [1.5e-5, 1.5e-5, 1.5e-4], (1.5e-5, 1.5e-5, 1.5e-4)])
def test_lr_layer_wise_flag_of_the_original(values):
    parsed = parse_lr_layer_wise(values)
    assert parsed == [1.5e-5, 1.5e-5, 1.5e-4]
    groups = layer_wise_block_groups(parsed, L)
    assert [g['blocks'] for g in groups] == [(0, 2), (2, 4), (4, 6)]
    assert [g['lr_mult'] for g in groups] == pytest.approx([0.1, 0.1, 1.0])
    # ViT-B: 12 blocks in 3 groups of 4, the lower 8 at 0.1x (the original's 1.5e-5 / 1.5e-4)
    assert [g['blocks'] for g in layer_wise_block_groups(parsed, 12)] == [(0, 4), (4, 8), (8, 12)]
    assert block_group_multipliers(groups, L) == pytest.approx([0.1] * 4 + [1.0] * 2)


@pytest.mark.parametrize(
    'values', ['1e-5,x', '', [], '1e-5,0', '1e-5,-1e-4', [1e-5, math.inf], [1e-5, math.nan], None, 3.0]
)
def test_lr_layer_wise_refuses_what_is_not_a_list_of_lrs(values):
    with pytest.raises(ValueError, match='lr_layer_wise'):
        parse_lr_layer_wise(values)


def test_lr_layer_wise_with_unequal_groups_says_what_to_use():
    with pytest.raises(
        ValueError,
        match=r'lr_layer_wise has 4 values but the backbone has 6 blocks, which do not split into 4 equal groups.*'
        r'divides 6.*block_groups=',
    ):
        layer_wise_block_groups([1e-5, 1e-4, 1e-4, 1e-4], L)


# -------------------------------------------------------------------------------------------------- block_groups
def test_block_groups_give_each_block_its_multiplier():
    groups = [dict(blocks=(0, 1), lr_mult=0.0), dict(blocks=(1, 4), lr_mult=0.1), dict(blocks=(4, 6), lr_mult=2)]
    assert block_group_multipliers(groups, L) == [0.0, 0.1, 0.1, 0.1, 2.0, 2.0]
    assert block_group_multipliers(LGP_GROUPS, L) == [0.1] * 4 + [1.0] * 2


@pytest.mark.parametrize(
    'groups, match',
    [
        (
            [dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(3, 6), lr_mult=1.0)],
            r'block_groups overlap: block 3 in groups \[0, 1\]',
        ),
        (
            [dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(1, 3), lr_mult=1.0), dict(blocks=(4, 6), lr_mult=1)],
            r'overlap: blocks 1-2 in groups \[0, 1\]',
        ),
        (
            [dict(blocks=(0, 4), lr_mult=0.1)],
            r'block_groups leave blocks 4-5 of the 6 blocks \(0-5\) uncovered.*dict\(blocks=\(4, 6\), lr_mult=1.0\)',
        ),
        (
            [dict(blocks=(0, 2), lr_mult=0.1), dict(blocks=(3, 6), lr_mult=1.0)],
            r'leave block 2 of the 6 blocks .* uncovered.*\(2, 3\)',
        ),
        (
            [dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(4, 8), lr_mult=1.0)],
            r'block_groups\[1\] has blocks=\(4, 8\), which is empty or out of range: the backbone has 6 blocks',
        ),
        ([dict(blocks=(3, 3), lr_mult=1.0)], r'block_groups\[0\] has blocks=\(3, 3\), which is empty'),
        ([dict(blocks=(0, 6), lr_mult=-0.1)], r'block_groups\[0\] lr_mult must be a finite number >= 0'),
        ([dict(blocks=(0, 6), lr=0.1)], r'block_groups\[0\] must be dict\(blocks=\(start, end\), lr_mult=m\)'),
        ([dict(blocks=(0.0, 6), lr_mult=1.0)], r'blocks must be a pair of ints'),
        ([dict(blocks=[0, 6, 1], lr_mult=1.0)], r'blocks must be a pair of ints'),
    ],
)
def test_block_groups_that_do_not_cover_each_block_once_are_refused(groups, match):
    with pytest.raises(ValueError, match=match):
        block_group_multipliers(groups, L)


# ------------------------------------------------------------------------------------------------- check_options
def test_defaults():
    opts = check_options(None)
    assert opts == check_options({})
    assert opts['weight_decay_rule'] == 'all' and opts['backbone'] == 'backbone'
    assert all(opts[key] is None for key in ('block_groups', 'lr_layer_wise', 'layer_decay', 'embed_lr_mult'))
    assert (opts['norm_lr_mult'], opts['head_lr_mult'], opts['decay_mult'], opts['custom_keys']) == (1.0, 1.0, 1.0, {})


def test_the_weight_decay_rules_are_the_three_recipes():
    assert list(WEIGHT_DECAY_RULES) == ['all', 'skip_1d', 'skip_1d_and_tokens']
    for rule in WEIGHT_DECAY_RULES:
        assert check_options(dict(weight_decay_rule=rule))['weight_decay_rule'] == rule


@pytest.mark.parametrize(
    'paramwise_cfg, match',
    [
        (dict(layer_decay_rate=0.75), r"Unknown paramwise_cfg keys \['layer_decay_rate'\]"),
        # the keys weight_decay_rule replaced
        (dict(no_decay_1d=True, no_decay_names=('pos_embed',)), r"Unknown .* \['no_decay_1d', 'no_decay_names'\]"),
        (
            dict(weight_decay_rule='skip_tokens'),
            r"weight_decay_rule must be one of \['all', 'skip_1d', 'skip_1d_and_tokens'\], got 'skip_tokens'",
        ),
        (dict(weight_decay_rule=None), r'weight_decay_rule must be one of .* got None'),
        (dict(lr_layer_wise='1e-5,1e-4', layer_decay=0.75), r"sets \['lr_layer_wise', 'layer_decay'\]: give at most"),
        (dict(block_groups=LGP_GROUPS, layer_decay=0.75), 'give at most one of'),
        (dict(lr_layer_wise='1e-4,0'), 'a last \\(top\\) value > 0'),  # checked before any model is seen
        (dict(layer_decay=0), 'layer_decay must be > 0'),
        (dict(layer_decay=-0.5), 'layer_decay must be a finite number >= 0'),
        (dict(head_lr_mult=math.nan), 'head_lr_mult must be a finite number >= 0'),
        (dict(decay_mult=True), 'decay_mult must be a finite number >= 0, got True'),
        (dict(embed_lr_mult='0.1'), 'embed_lr_mult must be a finite number'),
        (dict(backbone=None, layer_decay=0.75), r"backbone=None cannot be combined with \['layer_decay'\]"),
        (dict(backbone=None, embed_lr_mult=0.5), r"backbone=None cannot be combined with \['embed_lr_mult'\]"),
        (dict(custom_keys={'neck': dict(lr=2.0)}), r"custom_keys\['neck'\] must be a dict with keys among"),
        (dict(custom_keys={'neck': dict(lr_mult=-1)}), r"custom_keys\['neck'\]\['lr_mult'\] must be a finite"),
    ],
)
def test_invalid_options_raise_clear_errors(paramwise_cfg, match):
    with pytest.raises(ValueError, match=match):
        check_options(paramwise_cfg)


def test_unknown_weight_decay_rule_lists_what_each_rule_exempts():
    with pytest.raises(ValueError) as err:
        check_options(dict(weight_decay_rule='skip_tokens'))
    for rule, (what, whose) in WEIGHT_DECAY_RULES.items():
        assert f'{rule!r}: {what} ({whose})' in str(err.value)


@pytest.mark.parametrize('paramwise_cfg', ['skip_1d', [('layer_decay', 0.75)]])
def test_options_must_be_a_dict(paramwise_cfg):
    with pytest.raises(TypeError, match='paramwise_cfg must be None or a dict'):
        check_options(paramwise_cfg)


def test_custom_keys_must_be_a_dict():
    with pytest.raises(TypeError, match='custom_keys must be a dict'):
        check_options(dict(custom_keys=['neck']))


# ----------------------------------------------------------------------------------------- block map and schemes
def test_locate_places_each_parameter():
    assert locate('backbone.cls_token', 'cls_token', layer_id, L) == ('embeddings', None, 0)
    assert locate('backbone.mask_token', 'mask_token', layer_id, L) == ('embeddings', None, 0)  # map says L + 1
    assert locate('backbone.layers.3.ln2.bias', 'layers.3.ln2.bias', layer_id, L) == ('block', 3, 4)
    assert locate('backbone.ln1.weight', 'ln1.weight', layer_id, L) == ('final norm', None, 7)
    assert locate('neck.fc0.weight', None, layer_id, L) == ('outside backbone', None, 7)
    with pytest.raises(ValueError, match='layer id -1'):
        locate('backbone.x', 'x', lambda name: -1, L)


def test_block_multipliers_of_each_scheme():
    assert block_multipliers(options(), L) == [1.0] * L
    assert block_multipliers(options(block_groups=LGP_GROUPS), L) == [0.1] * 4 + [1.0] * 2
    assert block_multipliers(options(lr_layer_wise='1e-5,1e-4'), L) == pytest.approx([0.1] * 3 + [1.0] * 3)
    assert block_multipliers(options(layer_decay=0.5), L) == [0.5**6, 0.5**5, 0.5**4, 0.5**3, 0.5**2, 0.5]
    # a model's own block groups, when the options set no scheme
    assert block_multipliers(options(), L, LGP_GROUPS) == [0.1] * 4 + [1.0] * 2
    with pytest.raises(ValueError, match='uncovered'):
        block_multipliers(options(), L, [dict(blocks=(0, 4), lr_mult=0.1)])


def by_name(sites: list[ParamSite]) -> dict[str, tuple[float, float]]:
    return {s.name: (s.lr_mult, s.decay_mult) for s in sites if s.trainable}


def test_lgp_block_groups_lr_of_every_parameter():
    """Embeddings follow block 0; final norm and the neck at 1x unless set."""
    sites = vit_sites()
    assign_multipliers(sites, options(block_groups=LGP_GROUPS), L)
    lrs = {name: m for name, (m, _) in by_name(sites).items()}
    for name in (
        'cls_token',
        'pos_embed',
        'mask_token',
        'patch_embed.projection.weight',
        'patch_embed.projection.bias',
    ):
        assert lrs[f'backbone.{name}'] == 0.1, name
    for i in range(L):
        assert (
            lrs[f'backbone.layers.{i}.attn.qkv.weight'] == lrs[f'backbone.layers.{i}.ln1.bias'] == (0.1 if i < 4 else 1)
        )
    assert lrs['backbone.ln1.weight'] == lrs['neck.weight'] == lrs['neck.bias'] == 1.0


def test_embed_norm_head_multipliers():
    sites = vit_sites()
    assign_multipliers(sites, options(block_groups=LGP_GROUPS, embed_lr_mult=0.5, norm_lr_mult=0.2, head_lr_mult=3), L)
    lrs = {name: m for name, (m, _) in by_name(sites).items()}
    assert lrs['backbone.cls_token'] == lrs['backbone.patch_embed.projection.bias'] == 0.5
    assert lrs['backbone.layers.0.attn.qkv.weight'] == 0.1 and lrs['backbone.layers.5.ln1.bias'] == 1.0
    assert lrs['backbone.ln1.weight'] == 0.2 and lrs['neck.weight'] == lrs['neck.bias'] == 3.0


def test_layer_decay_of_every_parameter():
    """m(p) = d ** (L + 1 - id(p)) in the backbone, 1 outside it."""
    d = 0.75
    sites = vit_sites()
    assign_multipliers(sites, options(layer_decay=d), L)
    lrs = {name: m for name, (m, _) in by_name(sites).items()}
    assert lrs['backbone.cls_token'] == lrs['backbone.mask_token'] == pytest.approx(d**7)
    assert lrs['backbone.patch_embed.projection.weight'] == pytest.approx(d**7)
    for i in range(L):
        assert lrs[f'backbone.layers.{i}.attn.qkv.weight'] == pytest.approx(d ** (L - i))
    assert lrs['backbone.ln1.weight'] == lrs['neck.weight'] == 1.0


# Which of the tensors of vit_sites() each original recipe decays, written out.
ONE_D = {'backbone.patch_embed.projection.bias', 'backbone.ln1.weight', 'neck.bias'} | {
    f'backbone.layers.{i}.ln1.bias' for i in range(L)
}
TOKENS = {'backbone.cls_token', 'backbone.pos_embed', 'backbone.mask_token'}
UNDECAYED = {'all': set(), 'skip_1d': ONE_D, 'skip_1d_and_tokens': ONE_D | TOKENS}


@pytest.mark.parametrize('rule', [None, *WEIGHT_DECAY_RULES])
def test_weight_decay_rule_of_every_tensor(rule):
    sites = vit_sites()
    assign_multipliers(sites, options() if rule is None else options(weight_decay_rule=rule), L)
    decays = {name: w for name, (_, w) in by_name(sites).items()}
    undecayed = UNDECAYED[rule or 'all']  # the default decays every trained tensor (official MoCo v3)
    assert {name for name, w in decays.items() if w == 0} == undecayed
    assert all(w == 1.0 for name, w in decays.items() if name not in undecayed)


def test_decay_mult_scales_the_decayed_tensors_only():
    sites = vit_sites()
    assign_multipliers(sites, options(weight_decay_rule='skip_1d', decay_mult=0.5), L)
    decays = {name: w for name, (_, w) in by_name(sites).items()}
    assert {name for name, w in decays.items() if w == 0} == ONE_D
    assert all(w == 0.5 for name, w in decays.items() if name not in ONE_D)


def test_frozen_parameters_get_no_multipliers():
    sites = [site('backbone.pos_embed', 3, trainable=False), site('backbone.layers.0.attn.qkv.weight', 2)]
    assign_multipliers(sites, options(layer_decay=0.5), L)
    assert (sites[0].lr_mult, sites[0].decay_mult) == (1.0, 1.0)  # untouched: not in any group
    assert sites[1].lr_mult == 0.5**6


def test_without_a_backbone_every_multiplier_comes_from_the_head():
    sites = [ParamSite('fc.weight', 2, 4, True, *locate('fc.weight', None, None, 0))]
    assign_multipliers(sites, options(backbone=None, head_lr_mult=2.0, weight_decay_rule='skip_1d'), 0)
    assert (sites[0].lr_mult, sites[0].decay_mult) == (2.0, 1.0)


# ---------------------------------------------------------------------------------------------------- custom_keys
def test_custom_keys_longest_match_wins_on_top_of_the_scheme():
    sites = [*vit_sites(), site('backbone.layers.1.ffn.layers.0.0.weight', 2)]
    custom_keys = {
        'backbone.layers.0.': dict(lr_mult=2.0),  # must not catch the ffn.layers.0.0 of other blocks
        'backbone.layers.0.attn': dict(lr_mult=3.0, decay_mult=0.5),  # longer: wins for layers.0.attn.*
        'neck.weight': dict(decay_mult=0.5),
    }
    only_frozen = assign_multipliers(sites, options(block_groups=LGP_GROUPS, custom_keys=custom_keys), L)
    got = by_name(sites)
    assert only_frozen == []
    assert got['backbone.layers.0.ln1.bias'] == (0.2, 1.0)
    assert got['backbone.layers.0.attn.qkv.weight'] == pytest.approx((0.3, 0.5))
    assert got['backbone.layers.1.attn.qkv.weight'] == got['backbone.layers.1.ffn.layers.0.0.weight'] == (0.1, 1.0)
    assert got['neck.weight'] == (1.0, 0.5) and got['neck.bias'] == (1.0, 1.0)


def test_custom_keys_of_equal_length_tie_alphabetically():
    sites = [site('neck.ab', 2)]
    assign_multipliers(sites, options(custom_keys={'k.ab': dict(lr_mult=3.0), 'neck': dict(lr_mult=2.0)}), L)
    assert sites[0].lr_mult == 3.0  # 'k.ab' < 'neck', both 4 characters (mmengine's order)


def test_custom_keys_matching_nothing_or_only_frozen_parameters():
    sites = vit_sites() + [site('projector.fc.weight', 2, trainable=False)]
    with pytest.raises(ValueError, match=r"custom_keys \['predictor'\] match no parameter"):
        assign_multipliers(sites, options(custom_keys={'neck': dict(lr_mult=2.0), 'predictor': dict(lr_mult=2)}), L)
    assert assign_multipliers(sites, options(custom_keys={'projector': dict(lr_mult=2.0)}), L) == ['projector']


# ----------------------------------------------------------------------------------------- groups, table, summary
def test_groups_by_lr_and_decay_multiplier_base_lr_first():
    sites = vit_sites() + [site('backbone.layers.1.ln2.weight', 1, trainable=False)]
    assign_multipliers(sites, options(block_groups=LGP_GROUPS, weight_decay_rule='skip_1d'), L)
    groups = group_sites(sites)
    assert [(g.lr_mult, g.decay_mult) for g in groups] == [(1.0, 1.0), (1.0, 0.0), (0.1, 1.0), (0.1, 0.0)]
    members = [{m.name for m in g.members} for g in groups]
    assert set().union(*members) == {s.name for s in sites if s.trainable}
    assert sum(len(m) for m in members) == len(sites) - 1
    assert [g.description for g in groups] == [
        'blocks 4-5 + outside backbone (neck)',
        'blocks 4-5 + final norm + outside backbone (neck)',
        'embeddings + blocks 0-3',
        'embeddings + blocks 0-3',
    ]


def test_table_and_frozen_summary():
    frozen = [
        site('backbone.layers.1.ln2.weight', 1, trainable=False),
        site('backbone.layers.2.ln2.weight', 1, trainable=False),
        site('backbone.patch_embed.norm.weight', 1, trainable=False),
        site('momentum_encoder.w', 2, trainable=False),
    ]
    sites = vit_sites() + frozen
    assign_multipliers(sites, options(block_groups=LGP_GROUPS), L)
    assert frozen_summary(sites) == 'blocks 1-2: 2, embeddings: 1, momentum_encoder: 1'
    assert frozen_summary(vit_sites()) == ''
    table = format_table(group_sites(sites), base_lr=1e-3, base_wd=0.05).splitlines()
    header = ['#', 'group', 'tensors', 'params', 'lr', 'lr mult', 'weight decay']
    assert [c.strip() for c in table[0].split('|')] == header
    rows = [[c.strip() for c in line.split('|')] for line in table[1:]]
    # 1x: blocks 4-5 (2 x 2 tensors), final norm, neck (2); 0.1x: 5 embedding tensors, blocks 0-3 (4 x 2); 10 each
    assert rows == [
        ['0', 'blocks 4-5 + final norm + outside backbone (neck)', '7', '70', '0.001', '1', '0.05'],
        ['1', 'embeddings + blocks 0-3', '13', '130', '0.0001', '0.1', '0.05'],
    ]
