"""LGPViT in BEiT's style (ConMIM's encoder): no absolute position embedding, one relative position bias shared by all
blocks, layer scale, masked patch embeddings replaced by a mask token. Against mmpretrain's ``BEiTViT`` with the same
weights, the plain block, hand computations, and BEiT's resampling of the table (mmpretrain's function)."""

import numpy as np
import pytest
import scipy.interpolate
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import BEiTViT
from mmpretrain.models.utils import resize_relative_position_bias_table
from torch.nn.attention import SDPBackend, sdpa_kernel

from lgp.models import LGPViT
from lgp.models.backbones.vit import block_with_attn_bias, resize_rel_pos_bias_table

B, IMG, D, HEADS, DEPTH, GRID = 2, 32, 48, 3, 6, 8  # the nano arch at 32 px: 8 x 8 patches of 4 px
BEIT_STYLE = dict(pos_embed_type='none', rel_pos_bias=True, layer_scale_init_value=0.1)
TABLE = 'rel_pos_bias.relative_position_bias_table'


def beit_style(**kwargs) -> LGPViT:
    """A nano BEiT-style LGPViT in eval mode, every weight (the bias table too) moved away from its initialisation."""
    torch.manual_seed(0)
    model = LGPViT('nano', img_size=IMG, **{**BEIT_STYLE, **kwargs})
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(B, 3, IMG, IMG, generator=torch.Generator().manual_seed(0))


def to_beit(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An LGPViT state dict in mmpretrain BEiTViT's names.

    ``layers.{i}.attn.qkv.bias`` -> ``q_bias``, ``v_bias`` (BEiT has no k bias: a k bias adds the same q . b_k to
    every logit of a query, which the softmax cancels, so its value is dropped); ``attn.gamma1.weight`` ->
    ``gamma_1``; ``ffn.gamma2.weight`` -> ``gamma_2``; the rest keeps its name (BEiT's table index is a saved buffer:
    added by the caller).
    """
    out = {}
    for key, value in state_dict.items():
        if key.endswith('attn.qkv.bias'):
            prefix = key.removesuffix('qkv.bias')
            out[prefix + 'q_bias'], out[prefix + 'v_bias'] = value[:D], value[2 * D :]
        elif key.endswith('attn.gamma1.weight'):
            out[key.replace('attn.gamma1.weight', 'gamma_1')] = value
        elif key.endswith('ffn.gamma2.weight'):
            out[key.replace('ffn.gamma2.weight', 'gamma_2')] = value
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    'out_type, out_indices', [('raw', [5]), ('featmap', [1, 3, 5]), ('cls_token', [5])], ids=['raw', 'featmap', 'cls']
)
def test_outputs_equal_mmpretrain_beit_with_a_shared_relative_position_bias(out_type, out_indices, images):
    """Every token and the feature maps of chosen blocks (segmentation) equal BEiTViT's (use_abs_pos_emb=False,
    use_shared_rel_pos_bias=True, layer scale 0.1) with the same weights, a random table and a random k bias."""
    model = beit_style(out_type=out_type, out_indices=out_indices)
    assert model.layers[0].attn.qkv.bias[D : 2 * D].abs().min() > 0  # the k bias BEiT does not have is not zero
    assert model.rel_pos_bias.relative_position_bias_table.abs().min() > 0
    reference = BEiTViT(
        arch=dict(embed_dims=D, num_layers=DEPTH, num_heads=HEADS, feedforward_channels=4 * D),
        img_size=IMG,
        patch_size=4,
        use_abs_pos_emb=False,
        use_rel_pos_bias=False,
        use_shared_rel_pos_bias=True,
        layer_scale_init_value=0.1,
        bias='qv_bias',
        final_norm=True,
        out_type=out_type,
        out_indices=list(out_indices),
    )
    reference.eval()
    index = {'rel_pos_bias.relative_position_index': reference.rel_pos_bias.relative_position_index}
    reference.load_state_dict({**to_beit(model.state_dict()), **index}, strict=True)
    with torch.no_grad():
        ours, theirs = model(images), reference(images)
    assert len(ours) == len(theirs) == len(out_indices)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    if out_type == 'raw':
        torch.testing.assert_close(model.forward_tokens(images), theirs[0], atol=1e-5, rtol=1e-5)


def test_the_bias_changes_the_output_and_starts_at_zero(images):
    model = beit_style(out_type='raw')
    (biased,) = model(images)
    with torch.no_grad():
        model.rel_pos_bias.relative_position_bias_table.zero_()
    (unbiased,) = model(images)
    assert (biased - unbiased).abs().max() > 1e-2
    model.init_weights()
    assert not model.rel_pos_bias.relative_position_bias_table.any()  # BEiT's shared bias starts at zero
    bias = model.attention_bias((GRID, GRID))
    assert bias.shape == (1, HEADS, 1 + GRID * GRID, 1 + GRID * GRID)
    assert 'rel_pos_bias.relative_position_index' not in model.state_dict()  # only the table is saved


@pytest.mark.parametrize('training', [False, True], ids=['eval', 'train'])
def test_the_plain_block_with_a_zero_bias_is_the_block(training):
    """Bit for bit under one attention kernel (the fused default may pick another kernel for a masked call)."""
    model = beit_style(drop_path_rate=0.3)
    layer = model.layers[-1].train(training)
    x = torch.randn(B, 1 + GRID * GRID, D)
    zero = torch.zeros(HEADS, 1 + GRID * GRID, 1 + GRID * GRID)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        torch.manual_seed(1)
        expected = layer(x)
        torch.manual_seed(1)
        assert torch.equal(block_with_attn_bias(layer, x, zero), expected)
    torch.manual_seed(1)
    torch.testing.assert_close(block_with_attn_bias(layer, x, zero), expected, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_the_bias_is_added_to_the_attention_logits():
    """A hand computation of a block: softmax(q k^T / sqrt(d_head) + R) with the model's R, then layer scale."""
    model = beit_style()
    layer, x = model.layers[2], torch.randn(B, 1 + GRID * GRID, D)
    bias = model.attention_bias((GRID, GRID))
    weights, biases = layer.attn.qkv.weight.chunk(3), layer.attn.qkv.bias.chunk(3)
    q, k, v = (
        F.linear(layer.ln1(x), w, b).view(B, -1, HEADS, D // HEADS).transpose(1, 2)
        for w, b in zip(weights, biases, strict=True)
    )
    attn = torch.softmax(q @ k.transpose(-2, -1) / (D // HEADS) ** 0.5 + bias, dim=-1)
    y = x + layer.attn.gamma1.weight * layer.attn.proj((attn @ v).transpose(1, 2).reshape(B, -1, D))
    expected = y + layer.ffn.gamma2.weight * layer.ffn.layers(layer.ln2(y))
    torch.testing.assert_close(block_with_attn_bias(layer, x, bias), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('pos_embed_type', ['none', 'sincos'])
def test_forward_tokens_replaces_the_masked_patch_embeddings_by_the_mask_token(pos_embed_type, images):
    """By hand: embed the patches, put the mask token in the masked rows, then the CLS token and positions, blocks."""
    model = beit_style(pos_embed_type=pos_embed_type)
    mask = torch.rand(B, GRID * GRID, generator=torch.Generator().manual_seed(3)) < 0.4
    mask_token = torch.randn(1, 1, D)
    with torch.no_grad():
        patches, _ = model.patch_embed(images)
        for b, i in mask.nonzero().tolist():
            patches[b, i] = mask_token[0, 0]
        x = torch.cat((model.cls_token.expand(B, -1, -1), patches), dim=1)
        if pos_embed_type == 'sincos':
            x = x + model.pos_embed
        for layer in model.layers:
            x = block_with_attn_bias(layer, x, model.rel_pos_bias().unsqueeze(0))  # (1, heads, N, N), as the model
        expected = model.ln1(x)
        tokens = model.forward_tokens(images, mask=mask, mask_token=mask_token)
        torch.testing.assert_close(tokens, expected, atol=1e-6, rtol=1e-6)
        # other pixels under the mask give the same tokens; an empty mask gives the plain tokens
        pixels = mask.view(B, 1, GRID, 1, GRID, 1).expand(-1, 3, -1, 4, -1, 4).reshape(B, 3, IMG, IMG)
        other = images + pixels * torch.randn(images.shape)
        torch.testing.assert_close(model.forward_tokens(other, mask=mask, mask_token=mask_token), tokens)
        nothing = torch.zeros_like(mask)
        torch.testing.assert_close(
            model.forward_tokens(images, mask=nothing, mask_token=mask_token), model.forward_tokens(images)
        )


def test_mask_and_mask_token_are_checked(images):
    model = beit_style()
    mask, token = torch.zeros(B, GRID * GRID, dtype=torch.bool), torch.zeros(1, 1, D)
    with pytest.raises(ValueError, match='only one was given'):
        model.forward_tokens(images, mask=mask)
    with pytest.raises(ValueError, match='only one was given'):
        model.forward_tokens(images, mask_token=token)
    for bad_mask, bad_token in [(mask[:, 1:], token), (mask.float(), token), (mask, torch.zeros(1, D))]:
        with pytest.raises(ValueError, match=r'mask must be a bool \(B, L\)'):
            model.forward_tokens(images, mask=bad_mask, mask_token=bad_token)


def test_the_mask_token_gets_the_gradient_of_the_masked_positions_only(images):
    model = beit_style().train()
    mask = torch.zeros(B, GRID * GRID, dtype=torch.bool)
    mask_token = torch.zeros(1, 1, D, requires_grad=True)
    model.forward_tokens(images, mask=mask, mask_token=mask_token).sum().backward()
    assert not mask_token.grad.any()
    mask[0, 5] = True
    model.forward_tokens(images, mask=mask, mask_token=mask_token).sum().backward()
    assert mask_token.grad.abs().sum() > 0
    assert model.rel_pos_bias.relative_position_bias_table.grad.abs().sum() > 0


def test_activation_checkpointing_passes_the_bias(images):
    """Same tokens and gradients (the table's included) with ``with_cp`` as without."""
    plain = beit_style(out_type='featmap', out_indices=[2, 5]).train()
    ckpt = LGPViT('nano', img_size=IMG, out_type='featmap', out_indices=[2, 5], with_cp=True, **BEIT_STYLE).train()
    ckpt.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, ckpt):
        sum(out.square().sum() for out in model(images)).backward()
        grads.append({name: p.grad for name, p in model.named_parameters()})
    assert grads[0][TABLE].abs().sum() > 0
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-5, rtol=1e-5, msg=name)


def test_layer_scale_is_passed_to_every_block():
    model = LGPViT('nano', img_size=IMG, layer_scale_init_value=0.1)
    model.init_weights()
    for layer in model.layers:
        assert torch.equal(layer.attn.gamma1.weight, torch.full((D,), 0.1))
        assert torch.equal(layer.ffn.gamma2.weight, torch.full((D,), 0.1))
    assert not any('gamma' in name for name in LGPViT('nano', img_size=IMG).state_dict())


def test_no_absolute_position_embedding():
    """``pos_embed_type='none'``: no ``pos_embed`` anywhere, every other parameter keeps its block; frozen stages
    still freeze exactly the embeddings and first blocks (and the shared bias, which the frozen blocks use)."""
    model = LGPViT('nano', img_size=IMG, pos_embed_type='none')
    model.init_weights()
    assert model.pos_embed is None and 'pos_embed' not in model.state_dict()
    assert model.resized_pos_embed((GRID, GRID)) is None
    ids = {name: model.layer_id(name) for name, _ in model.named_parameters()}
    assert set(ids.values()) == set(range(DEPTH + 2))
    assert ids['cls_token'] == ids['patch_embed.projection.weight'] == 0
    x = torch.randn(B, 3, IMG, IMG)
    assert model(x)[0].shape == (B, D)
    latent, mask, _ = model(x, mask=True)  # MAE's masking needs no positions
    assert latent.shape == (B, 1 + GRID * GRID // 4, D) and mask.shape == (B, GRID * GRID)

    frozen = LGPViT('nano', img_size=IMG, pos_embed_type='none', frozen_stages=3)
    expected = {name for name, _ in frozen.named_parameters() if frozen.layer_id(name) <= 3}
    assert {name for name, p in frozen.named_parameters() if not p.requires_grad} == expected

    biased = LGPViT('nano', img_size=IMG, frozen_stages=3, **BEIT_STYLE)
    assert biased.layer_id(TABLE) == DEPTH + 1  # at the top for layer decay, as BEiT's
    expected = {name for name, _ in biased.named_parameters() if biased.layer_id(name) <= 3} | {TABLE}
    assert {name for name, p in biased.named_parameters() if not p.requires_grad} == expected
    biased.train()
    assert not biased.rel_pos_bias.relative_position_bias_table.requires_grad


def test_a_checkpoint_with_a_position_embedding_is_refused_by_the_strict_load():
    model = LGPViT('nano', img_size=IMG, **BEIT_STYLE)
    state_dict = {**model.state_dict(), 'pos_embed': torch.zeros(1, 1 + GRID * GRID, D)}
    with pytest.raises(RuntimeError, match='Unexpected key.*pos_embed'):
        model.load_state_dict(state_dict)


def test_what_the_bias_does_not_take_is_a_clear_error(images):
    model = beit_style()
    with pytest.raises(NotImplementedError, match='forward_tokens'):
        model(images, mask=True)
    with pytest.raises(ValueError, match=r'built for a \(8, 8\) patch grid, the input gives \(12, 12\)'):
        model(torch.randn(B, 3, 48, 48))
    with pytest.raises(ValueError, match='needs the CLS token'):
        LGPViT('nano', img_size=IMG, with_cls_token=False, out_type='raw', **BEIT_STYLE)


def interp2d_on_a_grid(x, y, z, kind):
    """scipy's ``interp2d(x, y, z, kind='cubic')`` on gridded data, removed in scipy 1.14, as scipy's message says to
    replace it: ``RectBivariateSpline`` (z (len(y), len(x)); the interpolant is called (x_new, y_new))."""
    assert kind == 'cubic'
    spline = scipy.interpolate.RectBivariateSpline(y, x, z, kx=3, ky=3)
    return lambda x_new, y_new: spline(y_new, x_new)


@pytest.mark.parametrize('src, dst', [(8, 16), (8, 12), (16, 8), (14, 32)])
def test_table_resampling_is_mmpretrains_beit_resampling(src, dst, monkeypatch):
    """Against mmpretrain's ``resize_relative_position_bias_table`` (BEiTViT's load hook; its ``interp2d`` stood in
    for where scipy no longer has it); the 3 CLS entries are kept and, growing, offsets 0 and +-1 keep their bias."""
    try:
        scipy.interpolate.interp2d(*2 * [np.arange(4.0)], np.zeros((4, 4)), kind='cubic')
    except (AttributeError, NotImplementedError):
        monkeypatch.setattr(scipy.interpolate, 'interp2d', interp2d_on_a_grid, raising=False)
    table = torch.randn((2 * src - 1) ** 2 + 3, HEADS, generator=torch.Generator().manual_seed(src + dst))
    resized = resize_rel_pos_bias_table(table, (src, src), (dst, dst))
    expected = resize_relative_position_bias_table(2 * src - 1, 2 * dst - 1, table[:-3], HEADS)
    assert resized.shape == ((2 * dst - 1) ** 2 + 3, HEADS)
    torch.testing.assert_close(resized[:-3], expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(resized[-3:], table[-3:])
    if dst > src:
        old = table[:-3].view(2 * src - 1, 2 * src - 1, HEADS)[src - 2 : src + 1, src - 2 : src + 1]
        new = resized[:-3].view(2 * dst - 1, 2 * dst - 1, HEADS)[dst - 2 : dst + 1, dst - 2 : dst + 1]
        torch.testing.assert_close(new, old, atol=1e-5, rtol=1e-5)


def test_table_resampling_of_a_rectangular_grid_keeps_the_side_that_does_not_change():
    """(8, 8) -> (8, 12): every dy keeps its offset, so the column dx = 0 is the old one, and the row dy = 0 is the
    square (12, 12) resampling's row dy = 0 (both splines pass through their nodes)."""
    table = torch.randn(15 * 15 + 3, HEADS, generator=torch.Generator().manual_seed(0))
    resized = resize_rel_pos_bias_table(table, (8, 8), (8, 12))
    assert resized.shape == (15 * 23 + 3, HEADS)
    grid, old = resized[:-3].view(15, 23, HEADS), table[:-3].view(15, 15, HEADS)
    square = resize_rel_pos_bias_table(table, (8, 8), (12, 12))[:-3].view(23, 23, HEADS)
    torch.testing.assert_close(grid[:, 11], old[:, 7])
    torch.testing.assert_close(grid[7], square[11])
    assert torch.equal(resize_rel_pos_bias_table(table, (8, 8), (8, 8)), table)
