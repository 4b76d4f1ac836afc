"""Fast paths: the same numbers as the plain computations of lgp's models, for less work. Each is exact (tested
against the plain path it replaces) and used only where its conditions hold; every model can turn them off
(``fast_paths=False``), which leaves the plain computation written where each loss is defined.

* :func:`partial_block`: a transformer block evaluated for some of its tokens only (with an attention bias, e.g.
  BEiT's relative position bias, its kept queries' rows). The backbone's last block runs for the CLS token alone when
  that is its only output (MoCo v3, linear probing); MAE's last decoder block runs for the masked patches alone
  (:func:`masked_only_mae_loss`), the only ones the loss reads. Per block on N tokens, M kept, width D, MLP 4D:
  (2 N + 10 M) D^2 multiply-adds and an M x N attention instead of 12 N D^2 and N x N.
* :func:`contrastive_loss_one_pass`: MoCo v3's two views through the (momentum) backbone as one batch of 2B.

Symbols: B batch, N tokens, M kept tokens, D width, L patches, L_keep visible patches, P = p * p * C pixels a patch.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.models.utils import MultiheadAttention
from torch.nn.modules.batchnorm import _BatchNorm

from .momentum import update_momentum_encoder


def has_standard_parts(layer: nn.Module) -> bool:
    """Whether ``layer`` is mmpretrain's pre-norm ``TransformerEncoderLayer`` that :func:`partial_block` follows."""
    return (
        type(layer) is TransformerEncoderLayer
        and type(layer.attn) is MultiheadAttention
        and type(layer.ffn) is FFN
        and not layer.attn.v_shortcut
    )


def partial_block(
    layer: TransformerEncoderLayer,
    x: torch.Tensor,
    keep: torch.Tensor | None = None,
    attn_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """``layer(x)`` at the tokens ``keep`` only: queries, projection and MLP for those, keys and values for all.

    Follows ``TransformerEncoderLayer.forward`` and ``MultiheadAttention.forward`` (layer scale, drop path, dropout);
    with ``attn_bias``, the block with an additive attention bias R
    (:func:`lgp.models.backbones.vit.block_with_attn_bias`).

    Args:
        layer: a block with :func:`has_standard_parts`.
        x: the block's input tokens, (B, N, D).
        keep: (B, M) indices of the tokens whose outputs are wanted; ``None``: the first (CLS) token, M = 1.
        attn_bias: the rows of R for the kept queries, broadcastable to (B, heads, M, N): ``R[..., :1, :]`` (1, heads,
            1, N) for the CLS token; ``None``: no bias.

    Returns:
        (B, M, D): what ``layer(x)`` (or the block with bias R) gives at the positions ``keep``.
    """
    attn, (b, n, d) = layer.attn, x.shape
    h = layer.ln1(x)
    if keep is None:
        x_kept, h_kept = x[:, :1], h[:, :1]
    else:
        index = keep.unsqueeze(-1).expand(-1, -1, d)
        x_kept, h_kept = x.gather(1, index), h.gather(1, index)
    m = x_kept.shape[1]
    weight, bias = attn.qkv.weight, attn.qkv.bias
    q = F.linear(h_kept, weight[:d], None if bias is None else bias[:d])
    kv = F.linear(h, weight[d:], None if bias is None else bias[d:])
    q = q.view(b, m, attn.num_heads, attn.head_dims).transpose(1, 2)
    k, v = kv.view(b, n, 2, attn.num_heads, attn.head_dims).permute(2, 0, 3, 1, 4)
    attn_mask = None if attn_bias is None else attn_bias.to(q.dtype)
    out = attn.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, dropout_p=attn.attn_drop if layer.training else 0.0
    )
    out = attn.proj(out.transpose(1, 2).reshape(b, m, d))
    x_kept = x_kept + attn.out_drop(attn.gamma1(attn.proj_drop(out)))
    return layer.ffn(layer.ln2(x_kept), identity=x_kept)


def masked_only_decoding_applies(decoder: nn.Module) -> bool:
    """Whether :func:`masked_only_mae_loss` can stand in for ``head.loss(decoder(...))``: mmpretrain's MAE decoder."""
    return type(decoder) is MAEPretrainDecoder and has_standard_parts(decoder.decoder_blocks[-1])


def masked_only_mae_loss(
    decoder: MAEPretrainDecoder,
    head: MAEPretrainHead,
    latent: torch.Tensor,
    mask: torch.Tensor,
    ids_restore: torch.Tensor,
    images: torch.Tensor,
) -> torch.Tensor:
    """``head.loss(decoder(latent, ids_restore), images, mask)``, predicting only the L - L_keep masked patches.

    The loss reads the predictions of the masked patches alone, so the last decoder block, the norm and the
    prediction run for those (1.7 % of an MAE ViT-B training step). latent (B, 1 + L_keep, D), mask (B, L) with
    1 = masked, ids_restore (B, L), images (B, C, H, W).
    """
    masked = torch.argsort(mask, dim=1, stable=True)[:, latent.shape[1] - 1 :]  # (B, L - L_keep) patch indices
    target = head.construct_target(images)
    target = target.gather(1, masked.unsqueeze(-1).expand(-1, -1, target.shape[-1]))
    x = decoder.decoder_embed(latent)
    batch, visible, dims = x.shape
    mask_tokens = decoder.mask_token.expand(batch, ids_restore.shape[1] + 1 - visible, -1)
    patches = torch.cat((x[:, 1:], mask_tokens), dim=1).gather(1, ids_restore.unsqueeze(-1).expand(-1, -1, dims))
    x = torch.cat((x[:, :1], patches), dim=1) + decoder.decoder_pos_embed
    for block in decoder.decoder_blocks[:-1]:
        x = block(x)
    x = partial_block(decoder.decoder_blocks[-1], x, 1 + masked)
    pred = decoder.decoder_pred(decoder.decoder_norm(x))  # (B, L - L_keep, P)
    return head.loss_module(pred, target, torch.ones_like(masked, dtype=target.dtype))


def one_pass_applies(model: nn.Module, view_1: torch.Tensor, view_2: torch.Tensor) -> bool:
    """Whether :func:`contrastive_loss_one_pass` gives MoCo v3's per-view loss: equal view shapes, a backbone
    without BatchNorm (a ViT normalises per token), and a momentum encoder that averages parameters only."""
    return (
        view_1.shape == view_2.shape
        and not model.momentum_encoder.update_buffers
        and not any(isinstance(m, _BatchNorm) for m in model.backbone.modules())
    )


def contrastive_loss_one_pass(
    model: nn.Module, view_1: torch.Tensor, view_2: torch.Tensor, update_momentum: bool = True
) -> torch.Tensor:
    """MoCo v3's symmetric loss with both views through the (momentum) backbone as one batch of 2B.

    Fewer and larger matrix products; the views are split before the projector, whose BatchNorm (as the
    predictor's) still sees each view's own batch and updates its running statistics view 1 first. The momentum
    backbone runs before the online forward pass, so its temporaries do not add to the stored activations at the
    peak; the momentum projector then takes the online projector's BatchNorm statistics of this step, as
    ``update_parameters`` (which copies buffers) would have given it. Only stochastic layers (drop path, dropout)
    draw their random numbers in another order than the per-view computation (``LGPMoCoV3.contrastive_loss``).
    """
    batch = view_1.shape[0]
    views = torch.cat((view_1, view_2))
    momentum_backbone, momentum_neck = model.momentum_encoder.module
    with torch.no_grad():
        if update_momentum:
            update_momentum_encoder(model.momentum_encoder, nn.Sequential(model.backbone, model.neck))
        g1, g2 = zip(*(out.split(batch) for out in momentum_backbone(views)), strict=True)
    f1, f2 = zip(*(out.split(batch) for out in model.backbone(views)), strict=True)
    q1, q2 = model.neck(f1)[0], model.neck(f2)[0]
    with torch.no_grad():
        if update_momentum:
            for averaged, online in zip(momentum_neck.buffers(), model.neck.buffers(), strict=True):
                averaged.copy_(online)
        k1, k2 = momentum_neck(g1)[0], momentum_neck(g2)[0]
    return model.head.loss(q1, k2) + model.head.loss(q2, k1)


__all__ = [
    'contrastive_loss_one_pass',
    'has_standard_parts',
    'masked_only_decoding_applies',
    'masked_only_mae_loss',
    'one_pass_applies',
    'partial_block',
]
