"""A transformer block evaluated for some of its tokens only.

When only some tokens' outputs of a block are used (the CLS token of MoCo v3's last encoder block, the masked
patches of MAE's last decoder block), only those tokens need to query the attention and go through the projection and
the MLP; keys and values still come from every token. Per block on N tokens, M of them kept, width D, MLP 4D:
(2 N + 10 M) D^2 multiply-adds and an M x N attention instead of 12 N D^2 and N x N. The outputs are the full
block's for those tokens. mmpretrain's blocks have no such path: :func:`partial_block` follows
``TransformerEncoderLayer.forward`` and ``MultiheadAttention.forward`` (layer scale, drop path and dropout included).
"""

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import MultiheadAttention


def has_standard_parts(layer: torch.nn.Module) -> bool:
    """Whether ``layer`` is mmpretrain's pre-norm ``TransformerEncoderLayer`` that :func:`partial_block` follows."""
    return (
        type(layer) is TransformerEncoderLayer
        and type(layer.attn) is MultiheadAttention
        and type(layer.ffn) is FFN
        and not layer.attn.v_shortcut
    )


def partial_block(layer: TransformerEncoderLayer, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """The block's outputs for the tokens ``keep`` only.

    Args:
        layer: a block with :func:`has_standard_parts`.
        x: the block's input tokens, (B, N, D).
        keep: (B, M) indices of the tokens whose outputs are wanted; ``None``: the first (CLS) token, M = 1.

    Returns:
        (B, M, D): what ``layer(x)`` gives at the positions ``keep``.
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
    out = attn.scaled_dot_product_attention(q, k, v, dropout_p=attn.attn_drop if layer.training else 0.0)
    out = attn.proj(out.transpose(1, 2).reshape(b, m, d))
    x_kept = x_kept + attn.out_drop(attn.gamma1(attn.proj_drop(out)))
    return layer.ffn(layer.ln2(x_kept), identity=x_kept)
