"""lgp.analysis.attention_distance: the measure against hand-computed cases and its symmetries; the attention maps
against timm's ViT with the same weights (every block, the last one's patch queries included); the model untouched."""

import math

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer as TimmViT

from lgp.analysis import (
    attention_distance_rows,
    attention_distances,
    attention_maps,
    mean_attention_distance,
    pixel_distance_matrix,
    summarise_attention_distances,
)
from lgp.models import LGPViT
from lgp.models.backbones.vit import block_with_attn_bias
from lgp.models.checkpoint import lgp_to_timm

P = 4
DIAGONAL = P * math.sqrt(2)
# 2 x 2 grid, patches numbered row by row: 0 (0, 0), 1 (0, 1), 2 (1, 0), 3 (1, 1)
GRID_2X2 = torch.tensor(
    [
        [0, P, P, DIAGONAL],
        [P, 0, DIAGONAL, P],
        [P, DIAGONAL, 0, P],
        [DIAGONAL, P, P, 0],
    ]
)


def with_cls(patch_attn: torch.Tensor, cls_weight: float = 0.0) -> torch.Tensor:
    """(L, L) patch-to-patch weights -> (1, 1, 1 + L, 1 + L) attention with a CLS token first: each patch query puts
    ``cls_weight`` on the CLS key and the rest on the patches; the CLS query attends uniformly (it is dropped)."""
    n = patch_attn.shape[0] + 1
    attn = torch.full((n, n), 1.0 / n)
    attn[1:, 0] = cls_weight
    attn[1:, 1:] = (1 - cls_weight) * patch_attn
    return attn[None, None]


def test_distance_matrix_by_hand():
    torch.testing.assert_close(pixel_distance_matrix((2, 2), P), GRID_2X2)
    d = pixel_distance_matrix((2, 3), (2, 5))  # rectangular grid and patches: rows 2 px apart, columns 5 px
    assert d.shape == (6, 6)
    assert d[0, 1] == 5 and d[0, 2] == 10 and d[0, 3] == 2 and d[4, 3] == 5
    torch.testing.assert_close(d[0, 5], torch.tensor(math.hypot(2, 10)))


def test_measure_by_hand():
    uniform = torch.full((4, 4), 0.25)
    # uniform attention: the mean of the distance matrix, (0 + 4 + 4 + 4 sqrt 2) / 4 = 2 + sqrt 2 pixels
    torch.testing.assert_close(mean_attention_distance(with_cls(uniform), (2, 2), P), torch.tensor([2 + math.sqrt(2)]))
    assert mean_attention_distance(with_cls(torch.eye(4)), (2, 2), P).item() == 0  # each patch on itself
    right_or_left = torch.eye(4)[[1, 0, 3, 2]]  # each patch on its horizontal neighbour: p
    torch.testing.assert_close(mean_attention_distance(with_cls(right_or_left), (2, 2), P), torch.tensor([float(P)]))
    opposite = torch.eye(4)[[3, 2, 1, 0]]  # each patch on the diagonally opposite one
    torch.testing.assert_close(mean_attention_distance(with_cls(opposite), (2, 2), P), torch.tensor([DIAGONAL]))
    # without a CLS token (N = L) the same numbers
    torch.testing.assert_close(mean_attention_distance(opposite[None, None], (2, 2), P), torch.tensor([DIAGONAL]))


def test_cls_weight_is_dropped_not_renormalised_unless_asked():
    right_or_left = torch.eye(4)[[1, 0, 3, 2]]
    half_on_cls = with_cls(right_or_left, cls_weight=0.5)
    torch.testing.assert_close(mean_attention_distance(half_on_cls, (2, 2), P), torch.tensor([P / 2]))
    torch.testing.assert_close(
        mean_attention_distance(half_on_cls, (2, 2), P, renormalise=True), torch.tensor([P * 1.0])
    )


def test_average_over_queries_and_images_per_head():
    images = torch.cat([with_cls(torch.eye(4)), with_cls(torch.eye(4)[[3, 2, 1, 0]])])  # 0 px, then 4 sqrt 2 px
    heads = torch.cat([images, images.flip(0)], dim=1)  # (2 images, 2 heads)
    torch.testing.assert_close(mean_attention_distance(heads, (2, 2), P), torch.full((2,), DIAGONAL / 2))
    mixed = with_cls(torch.eye(4)[[1, 0, 2, 3]])  # half the queries on a neighbour (p), half on themselves (0)
    torch.testing.assert_close(mean_attention_distance(mixed, (2, 2), P), torch.tensor([P / 2]))


def random_attention(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).softmax(dim=-1)


def test_permuting_heads_permutes_the_distances_and_images_do_not_matter():
    attn = random_attention(3, 4, 1 + 12, 1 + 12)  # 3 images, 4 heads, a 3 x 4 grid
    distance = mean_attention_distance(attn, (3, 4), P)
    order = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(mean_attention_distance(attn[:, order], (3, 4), P), distance[order])
    torch.testing.assert_close(mean_attention_distance(attn[[2, 0, 1]], (3, 4), P), distance)
    # the grid mirrored left-right (queries and keys alike) keeps every distance
    mirror = torch.cat([torch.tensor([0]), 1 + torch.arange(12).view(3, 4).flip(1).flatten()])
    torch.testing.assert_close(mean_attention_distance(attn[..., mirror, :][..., mirror], (3, 4), P), distance)
    # and the patch size scales it
    torch.testing.assert_close(mean_attention_distance(attn, (3, 4), 2 * P), 2 * distance)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r'\(B, heads, N, N\)'):
        mean_attention_distance(torch.rand(2, 5, 5), (2, 2), P)
    with pytest.raises(ValueError, match='fewer than the 9 patches'):
        mean_attention_distance(random_attention(1, 1, 5, 5), (3, 3), P)
    with pytest.raises(ValueError, match='must be positive'):
        pixel_distance_matrix((2, 2), 0)


def nano(**kwargs) -> LGPViT:
    torch.manual_seed(0)
    model = LGPViT('nano', img_size=32, **kwargs)
    model.init_weights()
    for p in model.parameters():  # a trained-looking model: attention far from uniform
        p.data.add_(0.3 * torch.randn_like(p))
    return model


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def timm_attention(model: LGPViT, images: torch.Tensor) -> list[torch.Tensor]:
    """Every block's attention probabilities from timm's (unfused) ViT with the same weights."""
    reference = TimmViT(img_size=32, patch_size=4, embed_dim=48, depth=6, num_heads=3, mlp_ratio=4, num_classes=0)
    reference.load_state_dict(lgp_to_timm(model.state_dict()), strict=True)
    maps = []
    for block in reference.blocks:
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_hook(lambda module, args, output: maps.append(output))
    with torch.no_grad():
        reference.eval().forward_features(images)
    return maps


def test_attention_maps_match_timm_every_block_including_the_last(images):
    model = nano()  # out_type='cls_token' from the last block: its fast path would run the CLS query alone
    assert model.class_token_only_last_block
    maps = attention_maps(model, images)
    reference = timm_attention(model, images)
    assert len(maps) == len(reference) == 6
    for ours, theirs in zip(maps, reference, strict=True):
        assert ours.shape == (2, 3, 65, 65)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    distances = attention_distances(model, images)
    expected = torch.stack([mean_attention_distance(a, (8, 8), P) for a in reference])
    torch.testing.assert_close(distances, expected, atol=1e-4, rtol=1e-5)
    assert not torch.allclose(distances[-1], distances[-2])  # the last block is measured in its own right


def test_measuring_leaves_the_model_as_it_was(images):
    model = nano(drop_path_rate=0.1)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        before = model(images)[0]
    model.train()
    attention_distances(model, images)
    assert model.training and model.fast_paths and model.class_token_only_last_block
    assert all(not layer.attn.qkv._forward_pre_hooks for layer in model.layers) and not model.patch_embed._forward_hooks
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], before, atol=0, rtol=0)


def test_a_relative_position_bias_is_in_the_attention_measured(images):
    """On a BEiT-style backbone (shared relative position bias R, no absolute positions, layer scale), every block's
    A = softmax(q k^T / sqrt(d_head) + R), recomputed by hand from the blocks' inputs (R non-zero: it matters)."""
    model = nano(pos_embed_type='none', rel_pos_bias=True, layer_scale_init_value=0.1)
    model.eval()
    with torch.no_grad():
        x, _ = model.embed(images)
        bias = model.rel_pos_bias()
        expected, unbiased = [], []
        for layer in model.layers:
            q, k, _ = layer.attn.qkv(layer.ln1(x)).view(2, 65, 3, 3, 16).permute(2, 0, 3, 1, 4)
            logits = q @ k.transpose(-2, -1) / 4.0  # sqrt(d_head) = sqrt(16)
            expected.append(torch.softmax(logits + bias, dim=-1))
            unbiased.append(torch.softmax(logits, dim=-1))
            x = block_with_attn_bias(layer, x, bias)  # the next block's input (checked against BEiT elsewhere)
    maps = attention_maps(model, images)
    for ours, theirs, without in zip(maps, expected, unbiased, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
        assert (ours - without).abs().max() > 1e-2
    distances = attention_distances(model, images)
    torch.testing.assert_close(distances, torch.stack([mean_attention_distance(a, (8, 8), P) for a in expected]))


def test_batches_are_weighted_by_their_images(images):
    model = nano()
    three = torch.cat([images, images[:1]])
    torch.testing.assert_close(
        attention_distances(model, [images, images[:1]]), attention_distances(model, three), atol=1e-5, rtol=1e-5
    )
    with pytest.raises(ValueError, match='No images'):
        attention_distances(model, [])


def test_rows_and_summary():
    distances = torch.tensor([[1.0, 3.0], [2.0, 6.0]])  # 2 blocks, 2 heads
    rows = attention_distance_rows('MAE', distances) + attention_distance_rows('MoCo v3', 2 * distances)
    assert rows[:2] == [
        {'method': 'MAE', 'block': 0, 'head': 0, 'distance': 1.0},
        {'method': 'MAE', 'block': 0, 'head': 1, 'distance': 3.0},
    ]
    summary = summarise_attention_distances(rows)
    assert [(s['method'], s['block'], s['mean'], s['min'], s['max']) for s in summary] == [
        ('MAE', 0, 2.0, 1.0, 3.0),
        ('MAE', 1, 4.0, 2.0, 6.0),
        ('MoCo v3', 0, 4.0, 2.0, 6.0),
        ('MoCo v3', 1, 8.0, 4.0, 12.0),
    ]
