"""Analytic FLOP counts of one pre-training step of MAE and MoCo v3 on a ViT (what ``train_step.py`` divides by).

A multiply-add counts as 2 FLOPs; only matrix products are counted (linear layers, the patch-embedding convolution,
the two attention products and the contrastive logits), as ``torch.utils.flop_counter.FlopCounterMode`` does.
Element-wise work (norms, softmax, GELU, the loss, AdamW, the momentum update) is left out: it is memory bound.

Symbols: B batch, C channels, p patch size, L = (H / p) * (W / p) patches, N tokens, D width, F MLP width.

* ViT block on N tokens: qkv 2 N D 3D, proj 2 N D D, MLP 2 N D F x 2, attention QK^T and AV 2 N N D each:
  ``2 N (4 D^2 + 2 D F) + 4 N^2 D`` = ``2 N (12 D^2 + 2 N D)`` when F = 4D.
* Patch embedding: ``2 L (C p^2) D`` (a convolution with stride p is a GEMM over the L patches).
* Backward: twice the forward (the gradients of the input and of the weights), so a trained layer costs 3x its
  forward; the patch embedding has no input gradient (its input is data): 2x for MAE, 1x for MoCo v3 whose patch
  embedding is a stop-gradient; the contrastive logits have no key gradient: 2x.
* MAE: the encoder embeds all L patches but runs its blocks on the N = 1 + L_keep visible tokens; the decoder runs
  on all 1 + L tokens (decoder_embed on the visible ones, decoder_pred on all of them).
* MoCo v3 per step: each of the 2 views through the online backbone, projector and predictor (forward and backward)
  and through the momentum backbone and projector (forward only), plus 2 logit matrices q k^T (B x B x O each).
* ``partial=True`` counts what lgp computes (:func:`lgp.models.fast_paths.partial_block`): a block whose outputs are
  needed for M of its N tokens only costs ``2 N D 2D`` (keys, values) + ``2 M (2 D^2 + 2 D F)`` + ``4 M N D``. In
  MoCo v3 the last encoder block keeps the CLS token (M = 1); in MAE the last decoder block and decoder_pred keep
  the L - L_keep masked patches.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ViTSpec:
    """The shape of a ViT encoder: width D, depth, MLP width F, input size and patch size p."""

    dims: int
    depth: int
    mlp_dims: int
    img_size: int
    patch_size: int
    in_chans: int = 3

    @property
    def num_patches(self) -> int:
        """L = (H / p) * (W / p)."""
        return (self.img_size // self.patch_size) ** 2


@dataclass(frozen=True)
class DecoderSpec:
    """MAE's decoder: width, depth and MLP width (4x the width in MAE)."""

    dims: int
    depth: int
    mlp_dims: int


def block_flops(tokens: int, dims: int, mlp_dims: int) -> int:
    """Forward FLOPs of one pre-norm transformer block on one sequence of N tokens (see the module docstring)."""
    return 2 * tokens * (4 * dims * dims + 2 * dims * mlp_dims) + 4 * tokens * tokens * dims


def partial_block_flops(tokens: int, kept: int, dims: int, mlp_dims: int) -> int:
    """Forward FLOPs of one block on N tokens whose outputs are computed for M of them (M = N: :func:`block_flops`)."""
    return 4 * tokens * dims * dims + 2 * kept * (2 * dims * dims + 2 * dims * mlp_dims) + 4 * kept * tokens * dims


def linear_flops(rows: int, widths: tuple[int, ...]) -> int:
    """Forward FLOPs of a stack of linear layers ``widths[0] -> widths[1] -> ...`` applied to ``rows`` vectors."""
    return sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:], strict=False))


def patch_embed_flops(vit: ViTSpec) -> int:
    """Forward FLOPs of the patch embedding of one image: ``2 L (C p^2) D``."""
    return 2 * vit.num_patches * vit.in_chans * vit.patch_size**2 * vit.dims


def encoder_flops(vit: ViTSpec, tokens: int, last_kept: int | None = None) -> int:
    """Forward FLOPs of the encoder's blocks on N tokens of one image (the patch embedding excluded).

    ``last_kept``: the last block computes the outputs of that many tokens only (:func:`partial_block_flops`).
    """
    last = last_kept or tokens
    return (vit.depth - 1) * block_flops(tokens, vit.dims, vit.mlp_dims) + partial_block_flops(
        tokens, last, vit.dims, vit.mlp_dims
    )


def mae_flops(
    vit: ViTSpec, decoder: DecoderSpec, mask_ratio: float, batch: int, train: bool = True, partial: bool = False
) -> int:
    """FLOPs of MAE on a batch: the forward pass, or (``train``) one training step (forward + backward).

    ``partial``: the last decoder block and the prediction run for the masked patches only, as in lgp.
    """
    patches = vit.num_patches
    kept = int(patches * (1 - mask_ratio))
    visible, predicted = 1 + kept, patches - kept if partial else 1 + patches
    trained = encoder_flops(vit, visible) + linear_flops(visible, (vit.dims, decoder.dims))
    trained += (decoder.depth - 1) * block_flops(1 + patches, decoder.dims, decoder.mlp_dims)
    trained += partial_block_flops(1 + patches, predicted, decoder.dims, decoder.mlp_dims)
    trained += linear_flops(predicted, (decoder.dims, vit.in_chans * vit.patch_size**2))
    embed = patch_embed_flops(vit)
    per_image = 3 * trained + 2 * embed if train else trained + embed
    return batch * per_image


def mocov3_flops(
    vit: ViTSpec,
    projector: tuple[int, ...],
    predictor: tuple[int, ...],
    batch: int,
    train: bool = True,
    partial: bool = False,
) -> int:
    """FLOPs of MoCo v3 on a batch of image pairs: ``model.loss`` (forward), or (``train``) one training step.

    Args:
        vit: the backbone (its CLS token feeds the projector).
        projector: widths of the projector, e.g. ``(768, 4096, 4096, 256)``.
        predictor: widths of the predictor, e.g. ``(256, 4096, 256)``.
        batch: B, the number of images (each gives 2 views).
        train: count forward + backward of the online branch (else the forward of the whole loss).
        partial: the last encoder block computes the CLS token's output only, as in lgp.
    """
    backbone = encoder_flops(vit, 1 + vit.num_patches, last_kept=1 if partial else None)
    embed = patch_embed_flops(vit)
    projection = linear_flops(1, projector)
    online = batch * (backbone + projection + linear_flops(1, predictor))
    momentum = batch * (backbone + embed + projection)
    logits = 2 * batch * batch * predictor[-1]
    online_factor, logit_factor = (3, 2) if train else (1, 1)
    per_view = online_factor * online + batch * embed + momentum + logit_factor * logits
    return 2 * per_view


__all__ = [
    'DecoderSpec',
    'ViTSpec',
    'block_flops',
    'encoder_flops',
    'linear_flops',
    'mae_flops',
    'mocov3_flops',
    'partial_block_flops',
    'patch_embed_flops',
]
