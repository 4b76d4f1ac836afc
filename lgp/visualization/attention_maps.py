"""Where a ViT looks: the CLS token's attention over the patches in the last block, per head, and attention rollout
through all the blocks (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Both read the attention probabilities A = softmax(q k^T / sqrt(d_head) + R) that :func:`lgp.analysis.attention_maps`
recomputes for every block in eval mode on the full images (the backbone's outputs, mode and settings are left as
they were).

Symbols: B images, heads attention heads, N = 1 + L tokens (the CLS token first), L = h * w patches row by row,
H x W image.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..analysis import attention_maps
from ..models import LGPViT
from .figures import image_grid, save_figure, show_image

_FUSE_HEADS = {'mean': torch.mean, 'max': torch.amax, 'min': torch.amin}
HEAD_FUSIONS = tuple(_FUSE_HEADS)


def patch_grid(backbone: LGPViT, images: torch.Tensor) -> tuple[int, int]:
    """(h, w) patches of images (B, C, H, W): ceil(H / p_h) x ceil(W / p_w), as the patch embedding pads them."""
    p_h, p_w = backbone.patch_embed.projection.stride
    return math.ceil(images.shape[-2] / p_h), math.ceil(images.shape[-1] / p_w)


def _cls_row(attn: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The CLS query's weights on the patch keys, (B, ..., h, w), of attention (B, ..., N, N) with the CLS token first
    and the h * w patches last."""
    h, w = grid
    if attn.shape[-1] < h * w + 1:
        raise ValueError(f'{attn.shape[-1]} tokens cannot be the CLS token and a {h} x {w} grid of patches.')
    return attn[..., 0, -h * w :].reshape(*attn.shape[:-2], h, w)


def _check_cls_token(backbone: LGPViT) -> None:
    if not isinstance(backbone, LGPViT):
        raise TypeError(f'The attention maps are read from an LGPViT backbone, got {type(backbone).__name__}.')
    if backbone.cls_token is None:
        raise ValueError('The backbone has no CLS token (with_cls_token=False): there is no CLS attention to show.')


def cls_attention(backbone: LGPViT, images: torch.Tensor) -> torch.Tensor:
    """A[:, :, 0, patches] of the last block: the CLS token's attention over the patches per head, (B, heads, h, w).

    Args:
        backbone: an lgp ViT with a CLS token; left as it was.
        images: normalised images (B, C, H, W) on the backbone's device.
    """
    _check_cls_token(backbone)
    return _cls_row(attention_maps(backbone, images)[-1], patch_grid(backbone, images))


def _discard_lowest(fused: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero the ``ratio`` lowest entries of each (N, N) matrix of (B, N, N), except the CLS token's weight on itself
    (as the reference implementation, jacobgil/vit-explain)."""
    flat = fused.flatten(1)
    lowest = flat.topk(int(flat.shape[1] * ratio), dim=1, largest=False).indices
    kept = flat.scatter(1, lowest, 0.0)
    kept[:, 0] = flat[:, 0]
    return kept.view_as(fused)


def attention_rollout(
    maps: Sequence[torch.Tensor],
    discard_ratio: float = 0.0,
    head_fusion: str = 'mean',
    grid: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Attention rollout: the CLS token's row of A'_n ... A'_2 A'_1 over the patches, (B, h, w).

    Per block, the heads are fused (their mean, max or min), the ``discard_ratio`` lowest weights zeroed, the
    residual connection added as A' = 0.5 A + 0.5 I, and each row renormalised to sum to 1.

    Args:
        maps: every block's attention (B, heads, N, N), the first block first (:func:`lgp.analysis.attention_maps`).
        discard_ratio: the fraction of each fused matrix's weights zeroed, the lowest (not the CLS token's on
            itself).
        head_fusion: one of :data:`HEAD_FUSIONS`.
        grid: (h, w) patches; default: a square grid of N - 1 patches.
    """
    if not maps:
        raise ValueError('attention_rollout needs the attention of at least one block.')
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f'head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}.')
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f'discard_ratio must be in [0, 1), got {discard_ratio}.')
    b, _, n, _ = maps[0].shape
    if grid is None:
        side = math.isqrt(n - 1)
        if side * side != n - 1:
            raise ValueError(f'{n - 1} patches are no square grid: pass grid=(h, w).')
        grid = (side, side)
    eye = torch.eye(n, device=maps[0].device)
    rollout = eye.expand(b, n, n)
    for attn in maps:
        fused = _FUSE_HEADS[head_fusion](attn.float(), dim=1)
        if discard_ratio > 0:
            fused = _discard_lowest(fused, discard_ratio)
        step = 0.5 * fused + 0.5 * eye
        rollout = (step / step.sum(dim=-1, keepdim=True)) @ rollout
    return _cls_row(rollout, grid)


@dataclass(frozen=True)
class EncoderAttention:
    """One encoder's maps for :func:`plot_attention_maps`.

    Attributes:
        label: the group's name in the figure (e.g. "MAE").
        images: (B, C, H, W) pixels in [0, 1].
        cls: (B, heads, h, w), :func:`cls_attention`.
        rollout: (B, h, w), :func:`attention_rollout`, or None.
    """

    label: str
    images: torch.Tensor
    cls: torch.Tensor
    rollout: torch.Tensor | None = None


def encoder_attention(
    label: str,
    backbone: LGPViT,
    images: torch.Tensor,
    pixels: torch.Tensor,
    rollout: bool = False,
    discard_ratio: float = 0.0,
    head_fusion: str = 'mean',
) -> EncoderAttention:
    """:func:`cls_attention` and, with ``rollout``, :func:`attention_rollout` of normalised images (B, C, H, W), from
    one pass of ``backbone``; ``pixels`` (B, C, H, W) in [0, 1] are the same images for display."""
    _check_cls_token(backbone)
    maps, grid = attention_maps(backbone, images), patch_grid(backbone, images)
    return EncoderAttention(
        label=label,
        images=pixels,
        cls=_cls_row(maps[-1], grid),
        rollout=attention_rollout(maps, discard_ratio, head_fusion, grid) if rollout else None,
    )


def _overlay(ax, image: torch.Tensor, heat: torch.Tensor, alpha: float) -> None:
    """Draw ``image`` (C, H, W) and over it ``heat`` (h, w) upsampled (bilinear) to H x W, scaled from its minimum
    (0) to its maximum (1)."""
    heat = F.interpolate(heat[None, None].float(), size=image.shape[-2:], mode='bilinear', align_corners=False)[0, 0]
    heat = (heat - heat.min()) / (heat.max() - heat.min()).clamp_min(1e-12)
    show_image(ax, image)
    ax.imshow(heat.cpu().numpy(), cmap='jet', alpha=alpha, vmin=0.0, vmax=1.0)


def plot_attention_maps(
    groups: Sequence[EncoderAttention],
    path: str | Path,
    alpha: float = 0.5,
    panel_inches: float = 1.2,
    dpi: int = 100,
) -> Path:
    """Write a PNG with a row per image of each encoder (a group of rows each, labelled on the left): the image, the
    mean over the heads of the CLS map, each head's map, and the rollout if any group has one (last column); each map
    scaled from its minimum to its maximum and overlaid on the image with opacity ``alpha``.

    Its size: (0.3 + cols * ``panel_inches``) x (rows * ``panel_inches`` + 0.8) inches at ``dpi``, with
    cols = 2 + the most heads + 1 with a rollout, rows = all groups' images.
    """
    if not groups:
        raise ValueError('plot_attention_maps needs at least one encoder.')
    heads = max(g.cls.shape[1] for g in groups)
    with_rollout = any(g.rollout is not None for g in groups)
    titles = ['image', 'mean of heads', *(f'head {h + 1}' for h in range(heads)), *(['rollout'] * with_rollout)]
    rows = sum(len(g.images) for g in groups)
    fig, axes = image_grid(rows, len(titles), panel_inches, top=0.4, bottom=0.4, left=0.3)
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title, fontsize=8)
    row = 0
    for group in groups:
        top, bottom = axes[row, 0].get_position().y1, axes[row + len(group.images) - 1, 0].get_position().y0
        fig.text(
            0.15 / fig.get_figwidth(),
            (top + bottom) / 2,
            group.label,
            rotation=90,
            ha='center',
            va='center',
            fontweight='bold',
        )
        for i, image in enumerate(group.images):
            line = axes[row]
            show_image(line[0], image)
            _overlay(line[1], image, group.cls[i].mean(dim=0), alpha)
            for h in range(group.cls.shape[1]):
                _overlay(line[2 + h], image, group.cls[i, h], alpha)
            for ax in line[2 + group.cls.shape[1] : len(titles) - with_rollout]:
                ax.axis('off')  # a group with fewer heads than another
            if with_rollout:
                if group.rollout is None:
                    line[-1].axis('off')
                else:
                    _overlay(line[-1], image, group.rollout[i], alpha)
            row += 1
    caption = "CLS token's attention over the patches, last block"
    if with_rollout:
        caption += '; rollout through all blocks (Abnar & Zuidema 2020)'
    caption += '; each map upsampled (bilinear), scaled min to max'
    fig.text(0.5, 0.2 / fig.get_figheight(), caption, ha='center', va='center', fontsize=6, wrap=True)
    return save_figure(fig, path, dpi)


__all__ = [
    'HEAD_FUSIONS',
    'EncoderAttention',
    'attention_rollout',
    'cls_attention',
    'encoder_attention',
    'patch_grid',
    'plot_attention_maps',
]
