"""Analytic FLOP counts of one pre-training step of MAE, MoCo v3, CMAE and ConMIM on a ViT (what ``train_step.py``
divides by).

A multiply-add counts as 2 FLOPs; only matrix products are counted (linear layers, the patch-embedding convolution,
the two attention products and the contrastive logits), as ``torch.utils.flop_counter.FlopCounterMode`` does.
Element-wise work (norms, softmax, GELU, the loss, AdamW, the momentum update) is left out: it is memory bound.

Symbols: B batch, C channels, p patch size, L = (H / p) * (W / p) patches, N tokens, D width, F MLP width, u mask
unit (squares of u x u patches), U = L / u^2 units, L_keep = u^2 int(U (1 - mask_ratio)) visible patches, D_d decoder
width, O output width of the predictor (ConMIM: of the projector).

* ViT block on N tokens: qkv 2 N D 3D, proj 2 N D D, MLP 2 N D F x 2, attention QK^T and AV 2 N N D each:
  ``2 N (4 D^2 + 2 D F) + 4 N^2 D`` = ``2 N (12 D^2 + 2 N D)`` when F = 4D.
* Patch embedding: ``2 L (C p^2) D`` (a convolution with stride p is a GEMM over the L patches).
* Backward: twice the forward (the gradients of the input and of the weights), so a trained layer costs 3x its
  forward; the patch embedding has no input gradient (its input is data): 2x for MAE, CMAE's and ConMIM's online
  encoders, 1x for MoCo v3 whose patch embedding is a stop-gradient; the contrastive logits have no key gradient:
  2x; momentum (target, slow) branches run forward only.
* MAE: the encoder embeds all L patches but runs its blocks on the N = 1 + L_keep visible tokens; the decoder runs
  on all 1 + L tokens (decoder_embed on the visible ones, decoder_pred on all of them).
* MoCo v3 per step: each of the 2 views through the online backbone, projector and predictor (forward and backward)
  and through the momentum backbone and projector (forward only), plus 2 logit matrices q k^T (B x B x O each).
* CMAE per step: the online branch, forward and backward, on the online view: MAE's encoder (L_keep from u x u
  squares, CMAE: u = 2) and pixel decoder, the feature decoder (decoder_embed on the 1 + L_keep visible tokens, its
  blocks and decoder_pred D_d -> D on all 1 + L), the projector and the predictor on the mean of its L patch
  features; the target branch, forward only, on the whole target view: patch embedding, encoder on all 1 + L tokens
  and projector; one logit matrix q k^T (B x B x O).
* ConMIM per step: the online encoder on all 1 + L tokens of the corrupted view (its masked patch embeddings
  replaced by the mask token: element-wise) and the per-token projector on its B L patch tokens, forward and
  backward; the slow encoder and projector on the whole full view, forward only; the B per-image logit matrices
  q_i k_i^T (L x L x O each). The shared relative position bias is added to the attention logits and the softmax is
  taken element-wise: neither is counted. Both sides of the benchmark's row compute every token: no ``partial``.
* ``partial=True`` counts what lgp computes (:func:`lgp.models.fast_paths.partial_block`): a block whose outputs are
  needed for M of its N tokens only costs ``2 N D 2D`` (keys, values) + ``2 M (2 D^2 + 2 D F)`` + ``4 M N D``. In
  MoCo v3 the last encoder block keeps the CLS token (M = 1); in MAE and CMAE the last pixel-decoder block and
  decoder_pred keep the L - L_keep masked patches (CMAE's feature decoder is read at every patch).
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


def kept_patches(patches: int, mask_ratio: float, mask_unit: int = 1) -> int:
    """L_keep, the patches masking keeps: u^2 int(U (1 - mask_ratio)) of U = L / u^2 squares of u x u patches, as
    :func:`lgp.models.backbones.vit.random_masking` (u = 1: ``int(L (1 - mask_ratio))``)."""
    units = patches // mask_unit**2
    return int(units * (1 - mask_ratio)) * mask_unit**2


def decoder_flops(
    decoder: DecoderSpec, in_dims: int, out_dims: int, patches: int, kept: int, predicted: int | None = None
) -> int:
    """Forward FLOPs of an MAE decoder on one image: decoder_embed (D -> D_d) on the 1 + L_keep visible tokens, the
    blocks on all 1 + L tokens and decoder_pred (D_d -> ``out_dims``) for ``predicted`` of them (default: all 1 + L;
    fewer: the last block too computes only those, :func:`partial_block_flops`)."""
    tokens = 1 + patches
    predicted = predicted or tokens
    embed = linear_flops(1 + kept, (in_dims, decoder.dims))
    blocks = (decoder.depth - 1) * block_flops(tokens, decoder.dims, decoder.mlp_dims)
    blocks += partial_block_flops(tokens, predicted, decoder.dims, decoder.mlp_dims)
    return embed + blocks + linear_flops(predicted, (decoder.dims, out_dims))


def masked_autoencoder_flops(vit: ViTSpec, decoder: DecoderSpec, kept: int, partial: bool) -> int:
    """Forward FLOPs of MAE's trained part on one image, the patch embedding excluded: the encoder on the 1 + L_keep
    visible tokens and the pixel decoder (``partial``: its last block and prediction for the masked patches only)."""
    patches, pixels = vit.num_patches, vit.in_chans * vit.patch_size**2
    predicted = patches - kept if partial else None
    return encoder_flops(vit, 1 + kept) + decoder_flops(decoder, vit.dims, pixels, patches, kept, predicted)


def mae_flops(
    vit: ViTSpec, decoder: DecoderSpec, mask_ratio: float, batch: int, train: bool = True, partial: bool = False
) -> int:
    """FLOPs of MAE on a batch: the forward pass, or (``train``) one training step (forward + backward).

    ``partial``: the last decoder block and the prediction run for the masked patches only, as in lgp.
    """
    trained = masked_autoencoder_flops(vit, decoder, kept_patches(vit.num_patches, mask_ratio), partial)
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


def cmae_flops(
    vit: ViTSpec,
    decoder: DecoderSpec,
    feature_decoder: DecoderSpec,
    projector: tuple[int, ...],
    predictor: tuple[int, ...],
    mask_ratio: float,
    mask_unit: int,
    batch: int,
    train: bool = True,
    partial: bool = False,
) -> int:
    """FLOPs of CMAE on a batch of (online, target) view pairs: ``model.loss`` (forward), or (``train``) one step.

    Args:
        vit: the online encoder and its EMA target.
        decoder: the pixel decoder (MAE's; its prediction is C p^2 wide).
        feature_decoder: the feature decoder (its prediction is D wide, as the encoder's tokens).
        projector: widths of the projector g (and of its EMA target), e.g. ``(768, 1536, 256)``.
        predictor: widths of the predictor h, e.g. ``(256, 1536, 256)``.
        mask_ratio: fraction of the u x u squares masked in the online view (CMAE: 0.65).
        mask_unit: u, the side of a masked square in patches (CMAE: 2).
        batch: B, the number of images (each gives an online and a target view).
        train: count forward + backward of the online branch (else the forward of the whole loss).
        partial: the last pixel-decoder block and the prediction run for the masked patches only, as in lgp.
    """
    patches = vit.num_patches
    kept = kept_patches(patches, mask_ratio, mask_unit)
    embed, projection = patch_embed_flops(vit), linear_flops(1, projector)
    features = decoder_flops(feature_decoder, vit.dims, vit.dims, patches, kept)
    online = masked_autoencoder_flops(vit, decoder, kept, partial) + features + projection + linear_flops(1, predictor)
    target = embed + encoder_flops(vit, 1 + patches) + projection
    logits = 2 * batch * batch * predictor[-1]
    online_factor, embed_factor, logit_factor = (3, 2, 2) if train else (1, 1, 1)
    return batch * (online_factor * online + embed_factor * embed + target) + logit_factor * logits


def conmim_flops(vit: ViTSpec, projector: tuple[int, ...], batch: int, train: bool = True) -> int:
    """FLOPs of ConMIM on a batch of (corrupted, full) view pairs: ``model.loss`` (forward), or (``train``) one step.

    Args:
        vit: the online encoder and its slow (EMA) twin, both on all 1 + L tokens.
        projector: widths of the per-token projector (and of its slow twin), e.g. ``(768, 4096, 4096, 256)``.
        batch: B, the number of images (each gives a corrupted and a full view).
        train: count forward + backward of the online branch (else the forward of the whole loss).
    """
    patches = vit.num_patches
    embed, encoder = patch_embed_flops(vit), encoder_flops(vit, 1 + patches)
    projection = linear_flops(patches, projector)
    online = encoder + projection
    slow = embed + encoder + projection
    logits = 2 * patches * patches * projector[-1]
    online_factor, embed_factor, logit_factor = (3, 2, 2) if train else (1, 1, 1)
    return batch * (online_factor * online + embed_factor * embed + slow + logit_factor * logits)


__all__ = [
    'DecoderSpec',
    'ViTSpec',
    'block_flops',
    'cmae_flops',
    'conmim_flops',
    'decoder_flops',
    'encoder_flops',
    'kept_patches',
    'linear_flops',
    'mae_flops',
    'masked_autoencoder_flops',
    'mocov3_flops',
    'partial_block_flops',
    'patch_embed_flops',
]
