"""LGPViT: output modes, MAE masking, MoCo v3 options, position-embedding resizing, the block map, the archs."""

import pytest
import timm
import torch
from mmpretrain.models.utils import build_2d_sincos_position_embedding, resize_pos_embed
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from lgp.models import LGPViT
from lgp.models.backbones import random_masking

B, IMG, D, DEPTH, GRID = 2, 32, 48, 6, 8  # the nano arch at 32 px: 8 x 8 patches of 4 px


def nano(**kwargs) -> LGPViT:
    model = LGPViT('nano', img_size=IMG, **kwargs)
    model.init_weights()
    model.eval()
    return model


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(B, 3, IMG, IMG, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    'out_type, shape',
    [
        ('cls_token', (B, D)),
        ('avg_featmap', (B, D)),
        ('raw', (B, 1 + GRID * GRID, D)),
        ('featmap', (B, D, GRID, GRID)),
    ],
)
def test_output_modes(out_type, shape, images):
    (out,) = nano(out_type=out_type)(images)
    assert out.shape == shape


def test_output_modes_agree(images):
    """cls_token is the first raw token; featmap is the patch tokens laid out on the grid."""
    torch.manual_seed(0)
    model = nano(out_type='raw')
    (raw,) = model(images)
    model.out_type = 'cls_token'
    torch.testing.assert_close(model(images)[0], raw[:, 0])
    model.out_type = 'featmap'
    featmap = model(images)[0]
    torch.testing.assert_close(featmap.flatten(2).transpose(1, 2), raw[:, 1:])


def test_feature_maps_of_chosen_blocks(images):
    outs = nano(out_type='featmap', out_indices=[1, 3, 5])(images)
    assert [o.shape for o in outs] == [(B, D, GRID, GRID)] * 3
    assert not torch.allclose(outs[0], outs[1])


@pytest.mark.parametrize('ratio', [0.75, 0.5, 0.9])
def test_masking_keeps_exactly_one_minus_ratio(ratio, images):
    latent, mask, ids_restore = nano(mask_ratio=ratio)(images, mask=True)
    num_patches, keep = GRID * GRID, int(GRID * GRID * (1 - ratio))
    assert latent.shape == (B, 1 + keep, D)
    assert mask.shape == ids_restore.shape == (B, num_patches)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert mask.sum(1).tolist() == [num_patches - keep] * B
    assert sorted(ids_restore[0].tolist()) == list(range(num_patches))


def test_random_masking_keeps_the_unmasked_tokens():
    x = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(2, 10, 3)
    kept, mask, ids_restore = random_masking(x, 0.7)
    assert kept.shape == (2, 3, 3)
    for b in range(2):
        expected = x[b][mask[b] == 0]
        assert sorted(map(tuple, kept[b].tolist())) == sorted(map(tuple, expected.tolist()))
    shuffled = torch.cat([kept, torch.zeros(2, 7, 3)], dim=1)  # what a decoder sees, then unshuffled
    unshuffled = torch.gather(shuffled, 1, ids_restore.unsqueeze(-1).expand(-1, -1, 3))
    torch.testing.assert_close(unshuffled[mask == 0], x[mask == 0])


@pytest.mark.parametrize('ratio', [0.65, 0.75, 0.5])
def test_unit_masking_keeps_whole_2x2_squares_that_cover_the_grid(ratio, images):
    """CMAE's masking: int(U * (1 - ratio)) of the U = 16 squares of 2x2 patches kept, each whole, on the 8x8 grid."""
    latent, mask, ids_restore = nano(mask_ratio=ratio, mask_unit=2)(images, mask=True)
    units = (GRID // 2) ** 2
    kept_units = int(units * (1 - ratio))
    assert latent.shape == (B, 1 + 4 * kept_units, D)
    squares = mask.view(B, GRID // 2, 2, GRID // 2, 2).permute(0, 1, 3, 2, 4).reshape(B, units, 4)
    # every square is all kept or all masked, and together the squares are the whole grid
    assert torch.all((squares.sum(-1) == 0) | (squares.sum(-1) == 4))
    assert (squares.sum(-1) == 0).sum(1).tolist() == [kept_units] * B
    assert squares.numel() == mask.numel() == B * GRID * GRID
    assert sorted(ids_restore[0].tolist()) == list(range(GRID * GRID))


def test_unit_masking_keeps_the_squares_with_the_lowest_noise():
    """A hand-made case: a 4x4 grid of tokens, 2x2 squares scored (3, 0, 2, 1): ratio 0.5 keeps squares 1 and 3."""
    x = torch.arange(16, dtype=torch.float32).view(1, 16, 1)
    kept, mask, _ = random_masking(x, 0.5, noise=torch.tensor([[3.0, 0.0, 2.0, 1.0]]), unit=2, grid=(4, 4))
    square_1, square_3 = {2, 3, 6, 7}, {10, 11, 14, 15}  # top-right and bottom-right, row-major token ids
    assert set(kept.flatten().int().tolist()) == square_1 | square_3
    assert mask.view(4, 4).tolist() == [[1, 1, 0, 0]] * 4


def test_unit_masking_refuses_a_grid_the_unit_does_not_divide():
    with pytest.raises(ValueError, match='multiples of 3'):
        nano(mask_unit=3)  # 8x8 patches
    with pytest.raises(ValueError, match='patch grid'):
        random_masking(torch.zeros(1, 16, 2), 0.5, unit=2)


def test_forward_tokens_with_and_without_the_final_norm(images):
    model = nano(out_type='raw')
    (plain,) = model(images)
    torch.testing.assert_close(model.forward_tokens(images), plain)
    unnormed = model.forward_tokens(images, final_norm=False)
    torch.testing.assert_close(model.ln1(unnormed), plain)
    assert not torch.allclose(unnormed, plain)


def test_unmasked_output_equals_plain_output(images):
    model = nano(out_type='raw', mask_ratio=0.0)
    (plain,) = model(images)
    latent, mask, ids_restore = model(images, mask=True)
    assert mask.sum() == 0
    patches = torch.gather(latent[:, 1:], 1, ids_restore.unsqueeze(-1).expand(-1, -1, D))
    torch.testing.assert_close(latent[:, 0], plain[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(patches, plain[:, 1:], atol=1e-5, rtol=1e-5)


def test_sincos_position_embedding_is_fixed():
    model = nano()
    assert not model.pos_embed.requires_grad
    expected = build_2d_sincos_position_embedding((GRID, GRID), D, cls_token=True)
    torch.testing.assert_close(model.pos_embed.data, expected)
    assert nano(pos_embed_type='learnable').pos_embed.requires_grad


def test_stop_grad_patch_embed(images):
    model = nano(stop_grad_patch_embed=True)
    model.train()
    model(images)[0].sum().backward()
    assert all(not p.requires_grad and p.grad is None for p in model.patch_embed.parameters())
    assert model.layers[0].attn.qkv.weight.grad is not None


def test_drop_path(images):
    model = nano(drop_path_rate=0.3)
    rates = [layer.attn.out_drop.drop_prob for layer in model.layers]
    torch.testing.assert_close(torch.tensor(rates), torch.linspace(0, 0.3, DEPTH), check_dtype=False)
    torch.testing.assert_close(model(images)[0], model(images)[0])
    model.train()
    assert not torch.allclose(model(images)[0], model(images)[0])


def test_position_embedding_resizes_for_other_inputs(images):
    model = nano(out_type='raw')
    (out,) = model(torch.randn(B, 3, 48, 48))
    assert out.shape == (B, 1 + 12 * 12, D)


def test_position_embedding_resizes_on_load():
    """A 32 px checkpoint loaded at 48 px gets mmpretrain's bicubic resize, and computes like the source."""
    small = nano(pos_embed_type='learnable', out_type='raw')
    large = LGPViT('nano', img_size=48, pos_embed_type='learnable', out_type='raw')
    large.eval()
    large.load_state_dict(small.state_dict())
    expected = resize_pos_embed(small.pos_embed.data, (GRID, GRID), (12, 12), mode='bicubic', num_extra_tokens=1)
    torch.testing.assert_close(large.pos_embed.data, expected)
    x = torch.randn(B, 3, 48, 48)
    torch.testing.assert_close(large(x)[0], small(x)[0])


def test_layer_ids_cover_every_parameter():
    model = nano()
    ids = {name: model.layer_id(name) for name, _ in model.named_parameters()}
    assert ids['cls_token'] == ids['pos_embed'] == ids['patch_embed.projection.weight'] == 0
    assert ids['layers.0.attn.qkv.weight'] == 1 and ids['layers.5.ffn.layers.1.bias'] == DEPTH
    assert ids['ln1.weight'] == DEPTH + 1
    assert set(ids.values()) == set(range(DEPTH + 2))
    assert model.get_layer_depth('backbone.layers.2.ln1.weight', 'backbone.') == (3, DEPTH + 2)
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (DEPTH + 1, DEPTH + 2)


@pytest.mark.parametrize(
    'arch, timm_name',
    [
        ('s', 'vit_small_patch16_224'),
        ('b', 'vit_base_patch16_224'),
        ('l', 'vit_large_patch16_224'),
        ('h', 'vit_huge_patch14_224'),
    ],
)
def test_archs_match_timm(arch, timm_name):
    """Same parameter shapes, name by name, as timm's model of that arch (built on the meta device)."""
    from lgp.models.checkpoint import lgp_to_timm

    with torch.device('meta'):
        ours = LGPViT(arch)
        reference = timm.create_model(timm_name, pretrained=False, num_classes=0)
    ours_shapes = {k: v.shape for k, v in lgp_to_timm(ours.state_dict()).items()}
    assert ours_shapes == {k: v.shape for k, v in reference.state_dict().items()}


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(KeyError, match="Unknown LGPViT arch 'xl'"):
        LGPViT('xl')


@pytest.mark.parametrize('registry', [MMPRETRAIN_MODELS, MMSEG_MODELS], ids=['mmpretrain', 'mmseg'])
def test_registered_for_mmpretrain_and_mmseg(registry):
    model = registry.build(dict(type='LGPViT', arch='nano', img_size=IMG, out_type='featmap'))
    assert isinstance(model, LGPViT)


def test_frozen_stages_hold_for_a_learnable_position_embedding(images):
    """Frozen means no gradient, no optimiser group and no change, whatever the position embedding's type."""
    from lgp.engine import GraftedOptimWrapperConstructor

    model = LGPViT('nano', img_size=IMG, pos_embed_type='learnable', frozen_stages=3)
    model.init_weights()
    frozen = {name for name, _ in model.named_parameters() if model.layer_id(name) <= 3}
    assert 'pos_embed' in frozen
    assert {name for name, p in model.named_parameters() if not p.requires_grad} == frozen
    wrapper = GraftedOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05)), dict(backbone=None)
    )(model)
    optimised = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    assert not {name for name, p in model.named_parameters() if id(p) in optimised} & frozen
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model.train()
    for _ in range(2):
        wrapper.update_params(model(images)[0].square().mean())
    model(images)[0].square().mean().backward()
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) == (name in frozen), name
        assert (p.grad is None) == (name in frozen), name


@pytest.mark.parametrize(
    'form',
    ['dict', 'list', 'tuple', 'list-with-others', 'ConfigDict'],
)
def test_every_init_cfg_form_loads_the_checkpoint(form, tmp_path):
    """The weights of a ``Pretrained`` init_cfg, in each form mmengine accepts, are what ``init_weights`` leaves:
    LGPViT's own initialisation and other initialisers run first, never over the loaded weights."""
    from mmengine.config import ConfigDict

    torch.manual_seed(3)
    source = LGPViT('nano', img_size=IMG, pos_embed_type='learnable')
    source.init_weights()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p))  # away from any initialisation
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in source.state_dict().items()}}, path)
    pretrained = dict(type='Pretrained', checkpoint=str(path))
    init_cfg = {
        'dict': pretrained,
        'list': [pretrained],
        'tuple': (pretrained,),
        'list-with-others': [dict(type='TruncNormal', layer='Linear', std=0.02), pretrained],
        'ConfigDict': ConfigDict(pretrained),
    }[form]
    model = LGPViT('nano', img_size=IMG, pos_embed_type='learnable', init_cfg=init_cfg)
    model.init_weights()
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_beit_initialisation_truncates_at_one_std_and_rescales_each_block():
    """BEiT's (and ConMIM's) scheme: N(0, 0.02) truncated at +-0.02 (std 0.02 * 0.540 once truncated), then each
    block's attention projection and second MLP layer divided by sqrt(2 (i + 1)); biases zero, LayerNorms unit."""
    torch.manual_seed(0)
    model = LGPViT('tiny', img_size=32, patch_size=4, init_scheme='beit')
    model.init_weights()
    truncated_std = 0.02 * 0.5396  # the std of a standard normal truncated to [-1, 1]
    for i, layer in enumerate(model.layers):
        qkv = layer.attn.qkv.weight
        assert qkv.abs().max() <= 0.02 and abs(qkv.std().item() / truncated_std - 1) < 0.03
        for weight in (layer.attn.proj.weight, layer.ffn.layers[1].weight):
            scale = (2 * (i + 1)) ** 0.5
            assert weight.abs().max() <= 0.02 / scale + 1e-9
            assert abs(weight.std().item() * scale / truncated_std - 1) < 0.05
        assert torch.all(layer.attn.qkv.bias == 0) and torch.all(layer.ln1.weight == 1)
    assert model.cls_token.abs().max() <= 0.02
    with pytest.raises(ValueError, match='init_scheme'):
        LGPViT('nano', img_size=32, init_scheme='xavier')
