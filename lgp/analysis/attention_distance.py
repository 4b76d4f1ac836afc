"""Mean attention distance per block and head: how far, in pixels, each head looks (the measure of the original Layer
Grafted release, of Dosovitskiy et al. 2021 and Raghu et al. 2021, "Do Vision Transformers See Like CNNs?").

For one block with attention probabilities A (B, heads, N, N) over N = E + L tokens (E extra tokens, the CLS token,
first; then the L = h * w patches row by row) and d(i, j) = p * ||(r_i, c_i) - (r_j, c_j)||, the distance in pixels
between the centres of patches i and j on the h x w grid of p x p patches:

    distance(head) = 1 / (B L) * sum_b sum_i sum_j A[b, head, E + i, E + j] * d(i, j)

i.e. per patch query the attention-weighted mean distance to the patch keys, averaged over the queries and images.
The CLS row and column are dropped and, as in the release, the patch weights are not renormalised: the share a patch
query gives the CLS token adds nothing, as a key at distance 0 would. ``renormalise=True`` rescales each query's
patch weights to sum to 1 instead (the mean distance of the patches it attends to).

The blocks compute their attention with the fused ``scaled_dot_product_attention``, which does not return the
weights, so :func:`attention_maps` recomputes A = softmax(q k^T / sqrt(d_head) + R) from each block's own ``qkv``
projection of its attention input, in a hook on that projection, with R (1, heads, N, N) the backbone's shared relative
position bias when it has one (``LGPViT(rel_pos_bias=True)``, BEiT's style; else R = 0), while the backbone runs in
eval mode (no drop path) on the full, unmasked images with every block on every token (the release's script measured
in training mode, the same without drop path or dropout; it also averaged batch means, the same for equal batches).
The model's outputs, parameters, mode and settings are left as they were. Symbols: B images, heads, N tokens,
L patches, num_blocks blocks.
"""

import csv
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import MultiheadAttention

from ..models.backbones import LGPViT
from ..utils import eval_mode


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def pixel_distance_matrix(grid: tuple[int, int], patch_size: int | tuple[int, int]) -> torch.Tensor:
    """d (L, L), L = h * w: the distance in pixels between the centres of patches i and j, numbered row by row.

    Args:
        grid: (h, w) patches.
        patch_size: p, or (p_h, p_w) for rectangular patches: the spacing of the patch centres in pixels.
    """
    (h, w), (p_h, p_w) = _pair(grid), _pair(patch_size)
    if h < 1 or w < 1 or p_h < 1 or p_w < 1:
        raise ValueError(f'grid and patch_size must be positive, got grid {grid} and patch_size {patch_size}.')
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    centres = torch.stack((rows.flatten() * p_h, cols.flatten() * p_w), dim=1).double()
    return (centres[:, None] - centres[None]).norm(dim=-1).float()


def mean_attention_distance(
    attn: torch.Tensor, grid: tuple[int, int], patch_size: int | tuple[int, int], renormalise: bool = False
) -> torch.Tensor:
    """distance(head) (heads,) in pixels of one block's attention probabilities, averaged over queries and images.

    Args:
        attn: A (B, heads, N, N), each row a distribution over the keys; N = E + h * w with the E extra (CLS)
            tokens first, whose rows and columns are dropped.
        grid: (h, w) patches.
        patch_size: p (or (p_h, p_w)) in pixels.
        renormalise: rescale each patch query's weights on the patch keys to sum to 1 (default: as the release,
            not renormalised).
    """
    if attn.dim() != 4 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f'attn must be (B, heads, N, N) attention probabilities, got shape {tuple(attn.shape)}.')
    num_patches = _pair(grid)[0] * _pair(grid)[1]
    extra = attn.shape[-1] - num_patches
    if extra < 0:
        raise ValueError(f'attn has {attn.shape[-1]} tokens, fewer than the {num_patches} patches of a {grid} grid.')
    weights = attn[..., extra:, extra:].float()
    if renormalise:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    distance = pixel_distance_matrix(grid, patch_size).to(weights.device)
    return torch.einsum('bhij,ij->h', weights, distance) / (attn.shape[0] * num_patches)


def attention_probabilities(
    attn: MultiheadAttention, x: torch.Tensor, attn_bias: torch.Tensor | None = None
) -> torch.Tensor:
    """A = softmax(q k^T / sqrt(d_head) + R) (B, heads, N, N) of mmpretrain's ``MultiheadAttention`` on its input
    x (B, N, D), from its own ``qkv`` projection (its scale is d_head^-1/2 whatever ``qk_scale`` says), with the
    additive attention bias ``attn_bias`` R (1, heads, N, N) if given (:meth:`lgp.models.LGPViT.attention_bias`)."""
    b, n, _ = x.shape
    qkv = F.linear(x, attn.qkv.weight, attn.qkv.bias)  # not attn.qkv(x): that would run the hooks on it again
    qkv = qkv.reshape(b, n, 3, attn.num_heads, attn.head_dims).permute(2, 0, 3, 1, 4)
    q, k = qkv[0], qkv[1]
    logits = q.float() @ k.float().transpose(-2, -1) * attn.head_dims**-0.5
    return torch.softmax(logits if attn_bias is None else logits + attn_bias.float(), dim=-1)


def _patch_size(backbone: LGPViT) -> tuple[int, int]:
    """The spacing of the patch centres in pixels: the stride of the patch embedding."""
    return _pair(tuple(backbone.patch_embed.projection.stride))


@torch.no_grad()
def _run_every_block(
    backbone: LGPViT, images: torch.Tensor, on_block: Callable[[int, torch.Tensor, tuple[int, int]], None]
) -> None:
    """Run ``backbone`` on images (B, C, H, W) in eval mode, every block on every token, and call
    ``on_block(i, A_i, (h, w))`` with each block's attention probabilities; restore the mode and ``fast_paths``."""
    if not isinstance(backbone, LGPViT):
        raise TypeError(f'The attention distance is measured on an LGPViT backbone, got {type(backbone).__name__}.')
    for i, layer in enumerate(backbone.layers):
        if not isinstance(getattr(layer, 'attn', None), MultiheadAttention):
            raise TypeError(
                f'Block {i} of the backbone has no mmpretrain MultiheadAttention (.attn) whose weights can be '
                'recomputed; the measure follows the standard transformer block.'
            )
    grids, biases, seen = [], [], set()

    def record_grid(module: torch.nn.Module, args: tuple, output: tuple) -> None:
        grids.append(tuple(output[1]))
        biases.append(backbone.attention_bias(grids[-1]))

    def hook_for(i: int) -> Callable:
        # on the qkv projection: the blocks with an attention bias do not call their attention module as a whole
        def hook(module: torch.nn.Linear, args: tuple) -> None:
            seen.add(i)
            on_block(i, attention_probabilities(backbone.layers[i].attn, args[0], biases[-1]), grids[-1])

        return hook

    handles = [backbone.patch_embed.register_forward_hook(record_grid)]
    handles += [layer.attn.qkv.register_forward_pre_hook(hook_for(i)) for i, layer in enumerate(backbone.layers)]
    fast_paths = backbone.fast_paths
    backbone.fast_paths = False  # the last block's patch queries too, not the CLS token alone
    try:
        with eval_mode(backbone):
            backbone(images)
    finally:
        for handle in handles:
            handle.remove()
        backbone.fast_paths = fast_paths
    missing = sorted(set(range(len(backbone.layers))) - seen)
    if missing:
        raise RuntimeError(f'Blocks {missing} did not run their attention module on the tokens; nothing measured.')


def attention_maps(backbone: LGPViT, images: torch.Tensor) -> list[torch.Tensor]:
    """The attention probabilities A of every block: num_blocks tensors (B, heads, N, N), N = 1 + L with a CLS token.

    Args:
        backbone: an lgp ViT; left as it was.
        images: normalised images (B, C, H, W) on the backbone's device.
    """
    maps = {}
    _run_every_block(backbone, images, lambda i, attn, grid: maps.__setitem__(i, attn))
    return [maps[i] for i in range(len(backbone.layers))]


def attention_distances(
    backbone: LGPViT, batches: torch.Tensor | Iterable[torch.Tensor], renormalise: bool = False
) -> torch.Tensor:
    """Mean attention distance in pixels (num_blocks, heads) of ``backbone`` over all images of ``batches``.

    Args:
        backbone: an lgp ViT; left as it was.
        batches: normalised images (B, C, H, W), or an iterable of such batches (moved to the backbone's device).
        renormalise: see :func:`mean_attention_distance`.
    """
    batches = [batches] if isinstance(batches, torch.Tensor) else batches
    device = next(backbone.parameters()).device
    total, num_images = 0.0, 0
    for images in batches:
        total = total + _batch_distances(backbone, images.to(device), renormalise) * len(images)
        num_images += len(images)
    if num_images == 0:
        raise ValueError('No images to measure the attention distance on.')
    return total / num_images


def _batch_distances(backbone: LGPViT, images: torch.Tensor, renormalise: bool) -> torch.Tensor:
    """(num_blocks, heads) mean attention distances over one batch, reduced block by block (no maps kept)."""
    patch_size, per_block = _patch_size(backbone), {}

    def measure(i: int, attn: torch.Tensor, grid: tuple[int, int]) -> None:
        per_block[i] = mean_attention_distance(attn, grid, patch_size, renormalise).cpu()

    _run_every_block(backbone, images, measure)
    return torch.stack([per_block[i] for i in range(len(backbone.layers))])


def attention_distance_rows(method: str, distances: torch.Tensor) -> list[dict]:
    """Rows ``{'method', 'block', 'head', 'distance'}`` of a (num_blocks, heads) :func:`attention_distances`."""
    return [
        {'method': method, 'block': block, 'head': head, 'distance': value}
        for block, per_head in enumerate(distances.tolist())
        for head, value in enumerate(per_head)
    ]


def summarise_attention_distances(rows: list[dict]) -> list[dict]:
    """Per method (in order of appearance) and block: the mean, min and max over the heads."""
    summary = []
    for method in dict.fromkeys(r['method'] for r in rows):
        for block in sorted({r['block'] for r in rows if r['method'] == method}):
            values = [r['distance'] for r in rows if r['method'] == method and r['block'] == block]
            summary.append(
                {
                    'method': method,
                    'block': block,
                    'mean': sum(values) / len(values),
                    'min': min(values),
                    'max': max(values),
                }
            )
    return summary


def write_attention_distance_report(rows: list[dict], out_dir: Path, meta: dict | None = None) -> dict[str, Path]:
    """Write ``attention_distance.csv`` (the rows), ``.json`` (``meta``, rows, per-block summary) and ``.png``: the
    mean over the heads per block, a line per method, each head a faint dot."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f'attention_distance.{ext}' for ext in ('csv', 'json', 'png')}
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['method', 'block', 'head', 'distance'])
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise_attention_distances(rows)
    paths['json'].write_text(json.dumps({**(meta or {}), 'rows': rows, 'summary': summary}, indent=1))

    methods = list(dict.fromkeys(r['method'] for r in rows))
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for n, method in enumerate(methods):
        offset = 0.1 * (n - (len(methods) - 1) / 2)  # side by side, so that the heads' dots do not hide each other
        heads = [r for r in rows if r['method'] == method]
        means = [s for s in summary if s['method'] == method]
        (line,) = ax.plot([s['block'] + offset for s in means], [s['mean'] for s in means], marker='o', label=method)
        ax.scatter(
            [r['block'] + offset for r in heads],
            [r['distance'] for r in heads],
            s=10,
            alpha=0.3,
            color=line.get_color(),
        )
    ax.set_xticks(sorted({r['block'] for r in rows}))
    ax.set_ylim(bottom=0)
    ax.set_xlabel('block')
    ax.set_ylabel('mean attention distance (pixels)')
    ax.set_title('Mean attention distance per block (dots: heads)')
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths['png'], dpi=120)
    plt.close(fig)
    return paths


__all__ = [
    'attention_distance_rows',
    'attention_distances',
    'attention_maps',
    'attention_probabilities',
    'mean_attention_distance',
    'pixel_distance_matrix',
    'summarise_attention_distances',
    'write_attention_distance_report',
]
