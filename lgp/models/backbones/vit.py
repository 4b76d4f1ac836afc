"""The one Vision Transformer of lgp: plain encoding, MAE and CMAE masking, MoCo v3 style, for every stage of lgp.

Built on mmpretrain's ``VisionTransformer`` (its attention runs PyTorch's fused ``scaled_dot_product_attention``),
so parameter names follow mmpretrain: ``patch_embed.projection``, ``cls_token``, ``pos_embed``,
``layers.{i}.{ln1,attn.qkv,attn.proj,ln2,ffn.layers.0.0,ffn.layers.1}`` and the final norm ``ln1``.
Checkpoints in other layouts (timm, official MAE / MoCo v3 releases) are converted by :mod:`lgp.models.checkpoint`.

BEiT's style (ConMIM's encoder) is a set of options of the same ViT: no absolute position embedding
(``pos_embed_type='none'``), one relative position bias shared by all blocks (``rel_pos_bias=True``: the table
``rel_pos_bias.relative_position_bias_table``, resampled on load for another patch grid by
:func:`resize_rel_pos_bias_table`), layer scale (``layer_scale_init_value``) and masked patch embeddings replaced by a
mask token the caller owns (:meth:`LGPViT.forward_tokens`).

Symbols: B batch, C channels, D embed dims, L = h * w patches, N tokens (1 + L with the CLS token), L_keep the
patches kept by masking (``int(L * (1 - mask_ratio))`` for single-patch masking), heads attention heads, d_head = D /
heads, R (heads, N, N) the attention bias (the relative position bias).
"""

import math
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks.drop import DropPath
from mmengine.logging import MMLogger
from mmengine.model.weight_init import initialize, trunc_normal_
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.backbones.beit import RelativePositionBias
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import build_2d_sincos_position_embedding, resize_pos_embed
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from ..checkpoint import REL_POS_TABLE_KEY, load_backbone_checkpoint, split_init_cfg
from ..fast_paths import has_standard_parts, partial_block

# ``patch_size`` is the arch's default and may be overridden; ``nano`` and ``tiny`` are for CPU tests and the demo.
ARCHS = {
    'nano': dict(embed_dims=48, num_layers=6, num_heads=3, feedforward_channels=192, patch_size=4),
    'tiny': dict(embed_dims=192, num_layers=12, num_heads=3, feedforward_channels=768, patch_size=16),
    's': dict(embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536, patch_size=16),
    'b': dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072, patch_size=16),
    'l': dict(embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096, patch_size=16),
    'h': dict(embed_dims=1280, num_layers=32, num_heads=16, feedforward_channels=5120, patch_size=14),
}
POS_EMBED_TYPES = ('sincos', 'learnable', 'none')
INIT_SCHEMES = ('mae', 'beit')


def random_masking(
    x: torch.Tensor,
    mask_ratio: float,
    noise: torch.Tensor | None = None,
    unit: int = 1,
    grid: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random subset of whole ``unit x unit`` squares of patches of each sample, the same number for all.

    With ``unit=1`` (MAE) exactly ``L_keep = int(L * (1 - mask_ratio))`` tokens are kept. With ``unit=u > 1`` (CMAE:
    2) the (h, w) patch grid is cut into U = (h / u) * (w / u) squares and ``u * u * int(U * (1 - mask_ratio))``
    tokens are kept, those of the kept squares (CMAE's ViT-B/16: 17 of 49 squares, 68 of 196 patches).

    Args:
        x: tokens, (B, L, D), in row-major grid order.
        mask_ratio: fraction of units to drop.
        noise: (B, U) scores deciding the kept units (the lowest are kept; U = L for ``unit=1``); uniform random if
            not given. Passing it makes the masks reproducible (e.g. to compare runs that split a batch differently).
        unit: side of a masking unit, in patches.
        grid: the patch grid (h, w), needed when ``unit > 1``; both sides must be multiples of ``unit``.

    Returns:
        ``x_kept`` (B, L_keep, D); ``mask`` (B, L), 1 for a dropped token, 0 for a kept one, in the original order;
        ``ids_restore`` (B, L), the permutation that puts shuffled tokens back in their original order.
    """
    B, L, D = x.shape
    if unit > 1:
        check_mask_grid(L, unit, grid)
    units = L // (unit * unit)
    noise = torch.rand(B, units, device=x.device) if noise is None else noise
    len_keep = int(units * (1 - mask_ratio)) * unit * unit
    if unit > 1:  # every patch takes its square's score; a stable sort keeps the squares whole
        h, w = grid
        noise = noise.reshape(B, h // unit, 1, w // unit, 1).expand(-1, -1, unit, -1, unit).reshape(B, L)
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))
    mask = torch.ones(B, L, device=x.device, dtype=x.dtype)
    mask[:, :len_keep] = 0
    return x_kept, torch.gather(mask, 1, ids_restore), ids_restore


def check_mask_grid(length: int, unit: int, grid: tuple[int, int] | None) -> None:
    """Raise ``ValueError`` unless the patch grid (h, w) has ``length`` patches and ``unit`` divides both sides."""
    if grid is None or grid[0] * grid[1] != length or grid[0] % unit or grid[1] % unit:
        raise ValueError(
            f'Masking in {unit}x{unit} units needs the patch grid (h, w) with h * w = {length} patches and both '
            f'sides multiples of {unit}; got grid={grid}. Choose an image and patch size whose grid the unit divides.'
        )


def replace_masked_patches(x: torch.Tensor, mask: torch.Tensor | None, mask_token: torch.Tensor | None) -> torch.Tensor:
    """Patch embeddings x (B, L, D) with the masked ones (``mask`` (B, L) bool, True = masked) replaced by
    ``mask_token`` (1, 1, D): BEiT's ``x (1 - w) + t w`` for the 0/1 weights w of the mask.

    Raises:
        ValueError: unless both ``mask`` and ``mask_token`` are given with those shapes and ``mask`` is bool.
    """
    b, length, d = x.shape
    if mask is None or mask_token is None:
        raise ValueError('Masked patch embeddings need both mask (B, L) and mask_token (1, 1, D); only one was given.')
    if mask.dtype != torch.bool or tuple(mask.shape) != (b, length) or tuple(mask_token.shape) != (1, 1, d):
        raise ValueError(
            f'mask must be a bool (B, L) = {(b, length)} tensor (True = masked) and mask_token (1, 1, D) = '
            f'{(1, 1, d)}; got mask {mask.dtype} {tuple(mask.shape)} and mask_token {tuple(mask_token.shape)}.'
        )
    return torch.where(mask.unsqueeze(-1), mask_token.to(x.dtype), x)


def block_with_attn_bias(layer: TransformerEncoderLayer, x: torch.Tensor, attn_bias: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` with an additive attention bias R: every head attends with softmax(q k^T / sqrt(d_head) + R).

    mmpretrain's ``TransformerEncoderLayer.forward`` and ``MultiheadAttention.forward`` step for step (ln1, qkv,
    attention with its dropout, proj, proj_drop, layer scale gamma1, drop path, then the FFN with its own residual),
    with R passed to the same fused ``scaled_dot_product_attention`` as its float mask: mmpretrain's attention takes
    no mask, so the block is written out here.

    Args:
        layer: an mmpretrain ``TransformerEncoderLayer`` (its attention without ``v_shortcut``).
        x: the block's input tokens, (B, N, D).
        attn_bias: R, broadcastable to (B, heads, N, N): (1, heads, N, N) for a bias shared by the batch.

    Returns:
        (B, N, D).
    """
    attn, (b, n, d) = layer.attn, x.shape
    qkv = attn.qkv(layer.ln1(x)).reshape(b, n, 3, attn.num_heads, attn.head_dims).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    dropout_p = attn.attn_drop if attn.training else 0.0
    out = attn.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias.to(q.dtype), dropout_p=dropout_p)
    out = attn.proj(out.transpose(1, 2).reshape(b, n, d))
    x = x + attn.out_drop(attn.gamma1(attn.proj_drop(out)))
    return layer.ffn(layer.ln2(x), identity=x)


def rel_pos_table_side(table: torch.Tensor, num_heads: int) -> int | None:
    """The side s of the square patch grid a relative position bias table is for, or None if it is none's.

    A table for an s x s grid and ``num_heads`` heads is ((2 s - 1)^2 + 3, heads): one row per relative offset, then
    BEiT's 3 CLS entries. s >= 2: a 1 x 1 grid has one offset, nothing to resample from.
    """
    if table.dim() != 2 or table.shape[1] != num_heads or table.shape[0] < 4:
        return None
    width = math.isqrt(table.shape[0] - 3)  # 2 s - 1
    if width * width != table.shape[0] - 3 or width % 2 == 0 or width < 3:
        return None
    return (width + 1) // 2


def _beit_offsets(src: int, dst: int) -> np.ndarray:
    """Where BEiT places the 2 src - 1 relative offsets of a side of ``src`` patches to resample them for ``dst``.

    0, +-1, +-(1 + q), +-(1 + q + q^2), ..., with q in [1.01, 1.5] found by bisection so that the farthest,
    1 + ... + q^(src - 2), is about dst - 1 (the integer offsets of the new side): the near offsets keep their place,
    the far ones spread out (or, for dst < src, q = 1.01 and the far ones are cut). A side that keeps its size keeps
    its offsets.
    """
    if src == dst:
        return np.arange(-(src - 1), src, dtype=np.float64)
    left, right = 1.01, 1.5
    while right - left > 1e-6:
        q = (left + right) / 2
        if (1 - q ** (src - 1)) / (1 - q) > dst - 1:
            right = q
        else:
            left = q
    distances = np.cumsum(q ** np.arange(src - 1))
    return np.concatenate((-distances[::-1], [0.0], distances))


def resize_rel_pos_bias_table(
    table: torch.Tensor, src_grid: tuple[int, int], dst_grid: tuple[int, int]
) -> torch.Tensor:
    """BEiT's resampling of a relative position bias table for another patch grid (BEiT's and ConMIM's transfer).

    The table ((2 h - 1)(2 w - 1) + 3, heads) holds one bias per relative offset (dy, dx) of an h x w grid, row-major
    over dy in [-(h - 1), h - 1] and dx in [-(w - 1), w - 1], then the 3 CLS entries, kept as they are. Per head, the
    offsets are placed as :func:`_beit_offsets` says and a cubic spline through them is read at the integer offsets
    of the new h' x w' grid.

    mmpretrain's ``resize_relative_position_bias_table`` (BEiTViT's load hook) does this with scipy's ``interp2d``,
    removed in scipy 1.14; this is the same with ``RectBivariateSpline``, its replacement for data on a grid (and for
    rectangular grids too). It runs on the CPU, without gradient: for loading, not for the forward pass.

    Args:
        table: ((2 h - 1)(2 w - 1) + 3, heads).
        src_grid: (h, w) the table is for.
        dst_grid: (h', w').

    Returns:
        ((2 h' - 1)(2 w' - 1) + 3, heads), in ``table``'s dtype and device.
    """
    from scipy.interpolate import RectBivariateSpline

    (h, w), (new_h, new_w) = src_grid, dst_grid
    if (h, w) == (new_h, new_w):
        return table
    heads = table.shape[1]
    rows, cols = _beit_offsets(h, new_h), _beit_offsets(w, new_w)
    grid = table[:-3].detach().cpu().double().numpy().reshape(2 * h - 1, 2 * w - 1, heads)
    new_rows, new_cols = np.arange(-(new_h - 1), new_h), np.arange(-(new_w - 1), new_w)
    kx, ky = min(3, len(rows) - 1), min(3, len(cols) - 1)
    resized = [RectBivariateSpline(rows, cols, grid[..., i], kx=kx, ky=ky)(new_rows, new_cols) for i in range(heads)]
    resized = torch.from_numpy(np.stack(resized, axis=-1).reshape(-1, heads)).to(table)
    return torch.cat((resized, table[-3:]))


@MMPRETRAIN_MODELS.register_module()
@MMSEG_MODELS.register_module()
class LGPViT(VisionTransformer):
    """ViT backbone for MAE, MoCo v3, Layer Grafted Pre-training and their transfer.

    Args:
        arch: one of :data:`ARCHS` (``nano``, ``tiny``, ``s``, ``b``, ``l``, ``h``) or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels`` (and optionally ``patch_size``).
        img_size: input size the position embedding is built for; other sizes are handled by resizing it.
        patch_size: overrides the arch's patch size.
        out_indices: blocks whose output is returned (negative counts from the end).
        out_type: ``cls_token`` (B, D), ``avg_featmap`` (B, D), ``raw`` (B, 1 + L, D) or ``featmap`` (B, D, h, w).
        mask_ratio: fraction of patches (or of ``mask_unit`` squares) dropped by :meth:`forward_masked` (MAE: 0.75,
            CMAE: 0.65).
        mask_unit: mask in squares of ``mask_unit x mask_unit`` patches (CMAE: 2, 32 px at p = 16); 1 masks single
            patches (MAE). The patch grid must be a multiple of it.
        pos_embed_type: ``sincos`` (fixed 2-D sin-cos, not trained: MAE and MoCo v3), ``learnable``, or ``none``:
            no absolute position embedding at all (BEiT's style, with ``rel_pos_bias``; no ``pos_embed`` in the
            state dict).
        rel_pos_bias: one relative position bias shared by all blocks (BEiT's ``use_shared_rel_pos_bias``, ConMIM):
            ``self.rel_pos_bias``, mmpretrain's ``RelativePositionBias`` for the patch grid (h, w) of ``img_size``,
            whose table ``rel_pos_bias.relative_position_bias_table`` ((2 h - 1)(2 w - 1) + 3, heads) starts at zero
            (its index is not saved). Every block attends with softmax(q k^T / sqrt(d_head) + R), R (heads, N, N)
            computed once per forward pass (:meth:`attention_bias`, :func:`block_with_attn_bias`). A checkpoint's
            table for another square grid is resampled on load (:func:`resize_rel_pos_bias_table`); inputs must
            give this grid. Needs the CLS token; :meth:`forward_masked` (MAE's dropped tokens) does not take it.
        stop_grad_patch_embed: keep the patch embedding out of training (MoCo v3's stop-gradient; in Layer Grafted
            Pre-training it stays at its MAE weights).
        init_scheme: ``mae`` (xavier-uniform linear layers and patch embedding, N(0, 0.02) cls_token) or ``beit``
            (BEiT's and ConMIM's: linear layers and patch embedding N(0, 0.02) truncated at +-0.02, the same for
            cls_token, then each block's attention projection and second MLP layer divided by sqrt(2 (i + 1)));
            both with zero biases and unit LayerNorms. A ``Pretrained`` checkpoint replaces either.
        drop_path_rate: stochastic depth, rising linearly to this value over the blocks.
        final_norm: apply the final LayerNorm after the last block.
        fast_paths: with ``out_type='cls_token'`` from the last block only, run that block for the CLS token alone
            (:attr:`class_token_only_last_block`, :func:`lgp.models.fast_paths.partial_block`): the same output for
            less work.
        frozen_stages: freeze the embeddings and blocks [0, frozen_stages) (and the final norm when all are): they
            keep ``requires_grad=False`` and eval mode (no drop path, dropout) in training, whatever else is set.
            The shared relative position bias, part of every block, is frozen with them (frozen_stages > 0).
        with_cp: activation checkpointing: in training with grad enabled, each block's activations are dropped after
            the forward pass and recomputed in backward: about a third more compute for much less activation memory
            (meant for ViT-L on 8 GPUs). Parameter names and state dict keys are unchanged.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, source='auto', encoder='online')``, alone or in a list
            with other initialisers, loads a checkpoint of any layout lgp reads
            (:func:`lgp.models.checkpoint.load_backbone_checkpoint`), strictly, after the initialisation.
        **kwargs: passed to mmpretrain's ``VisionTransformer`` (``drop_rate``, ``qkv_bias``, ``norm_cfg``,
            ``interpolate_mode``, ``layer_cfgs``, ``layer_scale_init_value``: layer scale gamma1 / gamma2 of every
            block, 0 = none, BEiT's ViT-B 0.1, ...).
    """

    arch_zoo = ARCHS

    def __init__(
        self,
        arch: str | dict = 'b',
        img_size: int = 224,
        patch_size: int | None = None,
        out_indices: int | Sequence[int] = -1,
        out_type: str = 'cls_token',
        mask_ratio: float = 0.75,
        mask_unit: int = 1,
        pos_embed_type: str = 'sincos',
        rel_pos_bias: bool = False,
        stop_grad_patch_embed: bool = False,
        init_scheme: str = 'mae',
        drop_path_rate: float = 0.0,
        final_norm: bool = True,
        fast_paths: bool = True,
        with_cp: bool = False,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        if isinstance(arch, str) and arch.lower() not in ARCHS:
            raise KeyError(
                f'Unknown LGPViT arch {arch!r}: choose one of {sorted(ARCHS)} or pass a dict with '
                'embed_dims, num_layers, num_heads and feedforward_channels.'
            )
        if pos_embed_type not in POS_EMBED_TYPES:
            raise ValueError(f'pos_embed_type must be one of {POS_EMBED_TYPES}, got {pos_embed_type!r}.')
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f'mask_ratio must be in [0, 1), got {mask_ratio}.')
        if init_scheme not in INIT_SCHEMES:
            raise ValueError(f'init_scheme must be one of {INIT_SCHEMES}, got {init_scheme!r}.')
        arch_settings = ARCHS[arch.lower()] if isinstance(arch, str) else arch
        super().__init__(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size or arch_settings.get('patch_size', 16),
            out_indices=list(out_indices) if isinstance(out_indices, Sequence) else out_indices,
            out_type=out_type,
            drop_path_rate=drop_path_rate,
            final_norm=final_norm,
            init_cfg=init_cfg,
            **kwargs,
        )
        # mmpretrain gives each block its drop-path rate as a numpy scalar, which torch.compile traces as a tensor: a
        # graph break at mmcv's `if drop_prob == 0.` in every block. As a Python float it is a constant.
        for module in self.modules():
            if isinstance(module, DropPath):
                module.drop_prob = float(module.drop_prob)
        self.mask_ratio = mask_ratio
        self.mask_unit = mask_unit
        if mask_unit > 1:
            check_mask_grid(self.num_patches, mask_unit, self.patch_resolution)
        self.fast_paths = fast_paths
        self.with_cp = with_cp
        self.pos_embed_type = pos_embed_type
        self.init_scheme = init_scheme
        if pos_embed_type == 'none':
            self.pos_embed = None  # mmpretrain's VisionTransformer always makes one
        else:
            self.pos_embed.requires_grad = pos_embed_type == 'learnable'
        self.rel_pos_bias = None
        if rel_pos_bias:
            if self.cls_token is None:
                raise ValueError("rel_pos_bias=True needs the CLS token: BEiT's table has 3 entries for it.")
            self.rel_pos_bias = RelativePositionBias(self.patch_resolution, self.arch_settings['num_heads'])
            index = self.rel_pos_bias.relative_position_index  # computed from the grid: out of the state dict
            self.rel_pos_bias.register_buffer('relative_position_index', index, persistent=False)
            self._register_load_state_dict_pre_hook(self._resize_rel_pos_bias_table)
        if stop_grad_patch_embed:
            self.patch_embed.requires_grad_(False)
        if self.frozen_stages > 0:  # again: mmpretrain froze them before pos_embed's requires_grad was set above
            self._freeze_stages()

    def _freeze_stages(self) -> None:
        """mmpretrain's freezing, and the shared relative position bias with it: every block, the frozen ones too,
        attends with it. (mmpretrain calls this in its ``__init__`` too, before the bias exists.)"""
        super()._freeze_stages()
        if getattr(self, 'rel_pos_bias', None) is not None:
            self.rel_pos_bias.requires_grad_(False)

    def train(self, mode: bool = True) -> 'LGPViT':
        """Set training mode, keeping the blocks frozen by ``frozen_stages`` in eval mode (no drop path)."""
        super().train(mode)
        if mode and self.frozen_stages > 0:
            self._freeze_stages()
        return self

    @property
    def num_patches(self) -> int:
        return self.patch_resolution[0] * self.patch_resolution[1]

    def init_weights(self) -> None:
        """The ``init_scheme``'s initialisation, then the ``init_cfg``'s other initialisers, then a strict load of its
        ``Pretrained`` checkpoint, whatever form mmengine accepts the ``init_cfg`` in (a dict or a list; nothing is
        overwritten)."""
        pretrained, others = split_init_cfg(self.init_cfg)
        if self.init_scheme == 'beit':
            self._init_beit()
        else:
            self.apply(_init_linear_and_norm)
            w = self.patch_embed.projection.weight
            nn.init.xavier_uniform_(w.data.view(w.shape[0], -1))
            if self.patch_embed.projection.bias is not None:
                nn.init.zeros_(self.patch_embed.projection.bias)
            if self.cls_token is not None:
                nn.init.normal_(self.cls_token, std=0.02)
        if self.pos_embed_type == 'sincos':
            sincos = build_2d_sincos_position_embedding(
                self.patch_resolution, self.embed_dims, cls_token=self.cls_token is not None
            )
            self.pos_embed.data.copy_(sincos)
        elif self.pos_embed_type == 'learnable':
            trunc_normal_(self.pos_embed, std=0.02)
        if self.rel_pos_bias is not None:
            nn.init.zeros_(self.rel_pos_bias.relative_position_bias_table)  # BEiT's shared bias starts at zero
        if others:
            initialize(self, others)
        if pretrained is not None:
            load_backbone_checkpoint(self, **pretrained)
        self._is_init = True

    def _init_beit(self) -> None:
        """BEiT's initialisation (``init_scheme='beit'``, see the class docstring)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02, a=-0.02, b=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02, a=-0.02, b=0.02)
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                layer.attn.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
                layer.ffn.layers[1].weight.div_(math.sqrt(2.0 * (i + 1)))

    def forward(self, x: torch.Tensor, mask: bool = False) -> tuple | tuple[torch.Tensor, ...]:
        """Encode images x (B, C, H, W).

        With ``mask=False`` (as mmpretrain's ``VisionTransformer.forward``): all L patches, CLS first, through every
        block; a tuple with one output per ``out_indices`` entry, formatted by ``out_type`` (``raw``: (B, 1 + L, D)).
        With ``mask=True``: :meth:`forward_masked` (what the MAE decoder needs).
        """
        if mask:
            return self.forward_masked(x)
        x, hw = self.embed(x)
        attn_bias = self.attention_bias(hw)
        outs = []
        last = len(self.layers) - 1
        for i in range(len(self.layers)):
            x = self._run_block(i, x, attn_bias, class_token_only=i == last and self.class_token_only_last_block)
            if i == last and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)

    def embed(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, mask_token: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[int, int]]:
        """Images (B, C, H, W) -> tokens (B, 1 + L, D), CLS first, with positions, and the patch grid (h, w).

        With ``mask`` (B, L) bool and ``mask_token`` (1, 1, D), the masked (True) patch embeddings are replaced by
        the mask token before the CLS token and the positions are added (:func:`replace_masked_patches`).
        """
        x, hw = self.patch_embed(x)
        if mask is not None or mask_token is not None:
            x = replace_masked_patches(x, mask, mask_token)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        pos_embed = self.resized_pos_embed(hw)
        if pos_embed is not None:
            x = x + pos_embed
        return self.pre_norm(self.drop_after_pos(x)), hw

    def forward_tokens(
        self,
        x: torch.Tensor,
        final_norm: bool | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Every token of images x (B, C, H, W) after the last block, (B, 1 + L, D), CLS first.

        Args:
            final_norm: whether the final norm is applied (default: the backbone's setting); CMAE's target encoder
                reads its tokens without it.
            mask: (B, L) bool, True where the patch embedding is replaced by ``mask_token`` (BEiT, ConMIM); give
                both or neither.
            mask_token: (1, 1, D), owned by the caller, so that the backbone's state dict is a transfer backbone's.
        """
        x, hw = self.embed(x, mask, mask_token)
        attn_bias = self.attention_bias(hw)
        for i in range(len(self.layers)):
            x = self._run_block(i, x, attn_bias)
        return self.ln1(x) if (self.final_norm if final_norm is None else final_norm) else x

    def attention_bias(self, hw: tuple[int, int]) -> torch.Tensor | None:
        """R (1, heads, 1 + L, 1 + L), the shared relative position bias every block adds to its attention logits,
        for the patch grid ``hw``; None without ``rel_pos_bias``. 4-D, so that PyTorch's fused CPU attention takes it
        (it refuses a 3-D mask and falls back to the plain computation).

        Raises:
            ValueError: for another grid than the one the table is for (mmpretrain's ``RelativePositionBias`` is
                built for one grid; a checkpoint's table is resampled on load instead).
        """
        if self.rel_pos_bias is None:
            return None
        if tuple(hw) != tuple(self.patch_resolution):
            raise ValueError(
                f'The relative position bias is built for a {tuple(self.patch_resolution)} patch grid, the input gives '
                f'{tuple(hw)}: build the backbone with the img_size of its inputs (a checkpoint for another size is '
                'resampled on load), e.g. for segmentation slide inference with crops of img_size.'
            )
        return self.rel_pos_bias().unsqueeze(0)

    def _run_block(
        self, i: int, x: torch.Tensor, attn_bias: torch.Tensor | None = None, class_token_only: bool = False
    ) -> torch.Tensor:
        """Block ``i`` on tokens x (B, N, D) -> (B, N, D), or (B, 1, D) for the CLS token alone.

        ``attn_bias`` (1, heads, N, N): the attention bias R (:meth:`attention_bias`); without it the block runs as
        ``layer(x)``. Checkpointed when ``with_cp``, training and grad enabled.
        """
        layer = self.layers[i]
        block: Callable[..., torch.Tensor] = layer
        args: tuple[torch.Tensor, ...] = (x,)
        if class_token_only:
            block = partial(partial_block, layer)
            args = (x,) if attn_bias is None else (x, None, attn_bias[..., :1, :])
        elif attn_bias is not None:
            block, args = partial(block_with_attn_bias, layer), (x, attn_bias)
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    @property
    def class_token_only_last_block(self) -> bool:
        """Whether the last block runs for the CLS token alone (:func:`lgp.models.fast_paths.partial_block`).

        True when the only output is the CLS token of the last block (``out_type='cls_token'``, ``out_indices``
        the last block: MoCo v3, linear probing), so that the patch tokens' outputs of that block are never used:
        for ViT-B/16 at 224 px that is about 7 % of the encoder's work saved, with the same output.
        """
        return (
            self.fast_paths
            and self.out_type == 'cls_token'
            and list(self.out_indices) == [len(self.layers) - 1]
            and has_standard_parts(self.layers[-1])
        )

    def forward_masked(
        self, x: torch.Tensor, mask_ratio: float | None = None, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """MAE encoder: embed all patches, keep a random ``1 - mask_ratio`` of them (of their ``mask_unit`` squares),
        encode the rest with CLS.

        ``noise`` (B, U), one score per masking unit (U = L for single patches), fixes which are kept (see
        :func:`random_masking`).

        Returns:
            ``latent`` (B, 1 + L_keep, D) after the final norm, CLS first; ``mask`` (B, L), 1 = masked;
            ``ids_restore`` (B, L) to unshuffle the decoder's tokens.

        Raises:
            NotImplementedError: with ``rel_pos_bias`` (BEiT-style encoders mask with a mask token instead:
                :meth:`forward_tokens`).
        """
        if self.rel_pos_bias is not None:
            raise NotImplementedError(
                'forward_masked drops the masked tokens, which the shared relative position bias is not gathered for; '
                'a rel_pos_bias backbone masks with a mask token: forward_tokens(x, mask=..., mask_token=...).'
            )
        x, hw = self.patch_embed(x)
        pos_embed = self.resized_pos_embed(hw)
        x, mask, ids_restore = random_masking(
            x if pos_embed is None else x + pos_embed[:, 1:],
            self.mask_ratio if mask_ratio is None else mask_ratio,
            noise,
            unit=self.mask_unit,
            grid=hw,
        )
        cls_token = self.cls_token if pos_embed is None else self.cls_token + pos_embed[:, :1]
        cls_token = cls_token.expand(x.shape[0], -1, -1)
        x = self.pre_norm(self.drop_after_pos(torch.cat((cls_token, x), dim=1)))
        for i in range(len(self.layers)):
            x = self._run_block(i, x)
        if self.final_norm:
            x = self.ln1(x)
        return x, mask, ids_restore

    def resized_pos_embed(self, hw: tuple[int, int]) -> torch.Tensor | None:
        """The position embedding (1, 1 + h * w, D) for a patch grid ``hw``, interpolated if it differs; None with
        ``pos_embed_type='none'``."""
        if self.pos_embed is None:
            return None
        return resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens,
        )

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """mmpretrain's load hook resizing a checkpoint's ``pos_embed``; with ``pos_embed_type='none'`` nothing to
        resize (mmpretrain's hook assumes a ``pos_embed``): a checkpoint's is left for the strict load to report."""
        if self.pos_embed is not None:
            super()._prepare_pos_embed(state_dict, prefix, *args, **kwargs)

    def rel_pos_table_grid(self, table: torch.Tensor) -> tuple[int, int] | None:
        """The grid (s, s) of a checkpoint's relative position bias table if the load hook can resample it to this
        model's grid: a ((2 s - 1)^2 + 3, heads) table with this model's heads (:func:`rel_pos_table_side`); None for
        any other tensor, or without ``rel_pos_bias``. :func:`lgp.models.checkpoint.check_state_dict` lets exactly
        these tables differ in shape."""
        if self.rel_pos_bias is None:
            return None
        side = rel_pos_table_side(table, self.rel_pos_bias.relative_position_bias_table.shape[1])
        return None if side is None else (side, side)

    def _resize_rel_pos_bias_table(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Load hook: a checkpoint's shared relative position bias table for another square grid is resampled to this
        model's grid (:func:`resize_rel_pos_bias_table`, as BEiTViT's hook, which needs scipy's removed ``interp2d``);
        any other mismatch is left for the strict load to report."""
        key = prefix + REL_POS_TABLE_KEY
        table, target = state_dict.get(key), self.rel_pos_bias.relative_position_bias_table
        if not isinstance(table, torch.Tensor) or table.shape == target.shape:
            return
        grid = self.rel_pos_table_grid(table)
        if grid is not None:
            state_dict[key] = resize_rel_pos_bias_table(table, grid, self.patch_resolution)
            MMLogger.get_current_instance().info(
                f'Resampled {key} from a {grid} to a {tuple(self.patch_resolution)} patch grid: '
                f'{tuple(table.shape)} -> {tuple(target.shape)}.'
            )

    def layer_id(self, param_name: str) -> int:
        """Depth of a backbone parameter: 0 for the embeddings, ``i + 1`` for block ``i``, ``L + 1`` for the rest.

        The rest is the final norm and the shared relative position bias ``rel_pos_bias.*``, which BEiT's layer decay
        puts at the top too (lr scale 1). This is the block map optimiser constructors use (layer decay: scale =
        decay ** (L + 1 - layer_id)).
        """
        if param_name in ('cls_token', 'pos_embed') or param_name.startswith(('patch_embed.', 'pre_norm.')):
            return 0
        if param_name.startswith('layers.'):
            return int(param_name.split('.')[1]) + 1
        return self.num_layers + 1

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """mmpretrain's layer-depth interface, answered from :meth:`layer_id`."""
        num_depths = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        return self.layer_id(param_name[len(prefix) :]), num_depths


def _init_linear_and_norm(m: nn.Module) -> None:
    """MAE / timm init: xavier-uniform linear weights, zero biases, unit LayerNorm."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


__all__ = [
    'ARCHS',
    'LGPViT',
    'block_with_attn_bias',
    'check_mask_grid',
    'random_masking',
    'rel_pos_table_side',
    'replace_masked_patches',
    'resize_rel_pos_bias_table',
]
