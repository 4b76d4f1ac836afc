"""lgp.visualization.attention_maps: the CLS map equals softmax(q k^T / sqrt(d)) computed by hand from the last block's
weights; rollout equals a hand computation (mean and max fusion, discarding); the backbone's training forward pass,
mode and fast paths are left as they were; the figure's grid."""

import math

import pytest
import torch
from matplotlib.image import imread

from lgp.analysis import attention_maps
from lgp.models import LGPViT
from lgp.visualization import EncoderAttention, attention_rollout, cls_attention, encoder_attention, plot_attention_maps

TINY = dict(embed_dims=24, num_layers=3, num_heads=2, feedforward_channels=48)


def tiny_vit(**kwargs) -> LGPViT:
    """A 3-block, 2-head LGPViT on 16x16 images with 4x4 patches (a 4x4 grid), seed 0."""
    torch.manual_seed(0)
    backbone = LGPViT(TINY, img_size=16, patch_size=4, **kwargs)
    backbone.init_weights()
    return backbone


def test_cls_attention_is_the_last_blocks_softmax_by_hand():
    backbone = tiny_vit().eval()
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x, _ = backbone.embed(images)
        for layer in backbone.layers[:-1]:
            x = layer(x)
        last = backbone.layers[-1]
        qkv = last.ln1(x) @ last.attn.qkv.weight.T + last.attn.qkv.bias  # (B, N, 3 D)
        q, k, _ = qkv.view(2, 17, 3, 2, 12).permute(2, 0, 3, 1, 4)  # each (B, heads, N, d)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(12), dim=-1)
    expected = attn[:, :, 0, 1:].reshape(2, 2, 4, 4)
    torch.testing.assert_close(cls_attention(backbone, images), expected)


def random_maps(blocks: int, b: int, heads: int, n: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.softmax(torch.randn(b, heads, n, n, generator=generator), dim=-1) for _ in range(blocks)]


@pytest.mark.parametrize('fusion', ['mean', 'max'])
def test_rollout_by_hand(fusion):
    maps = random_maps(3, 2, 3, 5)  # 3 blocks, 2 images, 3 heads, CLS + a 2x2 grid
    expected = torch.empty(2, 2, 2, dtype=torch.float64)
    for b in range(2):
        product = torch.eye(5, dtype=torch.float64)
        for attn in maps:
            heads = attn[b].double()
            fused = heads.mean(dim=0) if fusion == 'mean' else heads.max(dim=0).values
            step = 0.5 * fused + 0.5 * torch.eye(5, dtype=torch.float64)
            step = step / step.sum(dim=1, keepdim=True)
            product = step @ product  # the later block on the left
        expected[b] = product[0, 1:].reshape(2, 2)
    torch.testing.assert_close(attention_rollout(maps, head_fusion=fusion).double(), expected)


def test_rollout_discards_the_lowest_weights_but_the_cls_tokens_own():
    attn = torch.tensor([[0.05, 0.15, 0.80], [0.30, 0.60, 0.10], [0.20, 0.12, 0.68]])
    # discard 0.4 of 9 weights: the 3 lowest, 0.05 (CLS on itself, kept), 0.10 and 0.12 (zeroed); then
    # 0.5 A + 0.5 I, rows renormalised
    step = torch.tensor(
        [
            [0.525, 0.075, 0.40],
            [0.15 / 0.95, 0.80 / 0.95, 0.0],
            [0.10 / 0.94, 0.0, 0.84 / 0.94],
        ]
    )
    expected = (step @ step)[0, 1:].reshape(1, 1, 2)
    maps = [attn[None, None], attn[None, None]]  # two blocks, one image, one head
    torch.testing.assert_close(attention_rollout(maps, discard_ratio=0.4, grid=(1, 2)), expected)


def test_rollout_refusals():
    maps = random_maps(1, 1, 1, 5)
    with pytest.raises(ValueError, match='head_fusion must be one of'):
        attention_rollout(maps, head_fusion='median')
    with pytest.raises(ValueError, match='no square grid'):
        attention_rollout(random_maps(1, 1, 1, 4))
    with pytest.raises(ValueError, match='at least one block'):
        attention_rollout([])


def test_training_forward_mode_and_fast_paths_are_left_as_they_were():
    backbone = tiny_vit().train()
    assert backbone.class_token_only_last_block  # the fused CLS-only last block runs in training
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    before, state = backbone(images)[0], {k: v.clone() for k, v in backbone.state_dict().items()}
    cls_attention(backbone, images)
    attention_rollout(attention_maps(backbone, images))
    encoder_attention('tiny', backbone, images, torch.rand(2, 3, 16, 16), rollout=True)
    assert backbone.training and backbone.fast_paths
    assert torch.equal(backbone(images)[0], before)
    assert all(torch.equal(v, state[k]) for k, v in backbone.state_dict().items())


def test_refuses_a_backbone_without_cls_token():
    backbone = tiny_vit(with_cls_token=False, out_type='avg_featmap')
    with pytest.raises(ValueError, match='no CLS token'):
        cls_attention(backbone, torch.zeros(1, 3, 16, 16))


def test_figure_has_a_row_per_image_and_a_column_per_head(tmp_path):
    groups = [
        EncoderAttention('three heads', torch.rand(2, 3, 16, 16), torch.rand(2, 3, 4, 4), torch.rand(2, 4, 4)),
        EncoderAttention('two heads', torch.rand(1, 3, 16, 16), torch.rand(1, 2, 4, 4)),
    ]
    path = plot_attention_maps(groups, tmp_path / 'maps.png', panel_inches=1.0, dpi=50)
    # 3 rows; image, mean, 3 heads, rollout: 6 columns; margins 0.3 in left, 0.4 top and bottom
    assert imread(path).shape == (round((3 * 1.0 + 0.8) * 50), round((0.3 + 6 * 1.0) * 50), 4)
