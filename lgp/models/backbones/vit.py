"""The one Vision Transformer of lgp: plain encoding, MAE and CMAE masking, MoCo v3 style, for every stage of lgp.

Built on mmpretrain's ``VisionTransformer`` (its attention runs PyTorch's fused ``scaled_dot_product_attention``),
so parameter names follow mmpretrain: ``patch_embed.projection``, ``cls_token``, ``pos_embed``,
``layers.{i}.{ln1,attn.qkv,attn.proj,ln2,ffn.layers.0.0,ffn.layers.1}`` and the final norm ``ln1``.
Checkpoints in other layouts (timm, official MAE / MoCo v3 releases) are converted by :mod:`lgp.models.checkpoint`.

Symbols: B batch, C channels, D embed dims, L = h * w patches, L_keep the patches kept by masking
(``int(L * (1 - mask_ratio))`` for single-patch masking).
"""

from collections.abc import Callable, Sequence
from functools import partial

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model.weight_init import initialize, trunc_normal_
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.utils import build_2d_sincos_position_embedding, resize_pos_embed
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from ..checkpoint import load_backbone_checkpoint, split_init_cfg
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
POS_EMBED_TYPES = ('sincos', 'learnable')


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
        pos_embed_type: ``sincos`` (fixed 2-D sin-cos, not trained: MAE and MoCo v3) or ``learnable``.
        stop_grad_patch_embed: keep the patch embedding out of training (MoCo v3's stop-gradient; in Layer Grafted
            Pre-training it stays at its MAE weights).
        drop_path_rate: stochastic depth, rising linearly to this value over the blocks.
        final_norm: apply the final LayerNorm after the last block.
        fast_paths: with ``out_type='cls_token'`` from the last block only, run that block for the CLS token alone
            (:attr:`class_token_only_last_block`, :func:`lgp.models.fast_paths.partial_block`): the same output for
            less work.
        frozen_stages: freeze the embeddings and blocks [0, frozen_stages) (and the final norm when all are): they
            keep ``requires_grad=False`` and eval mode (no drop path, dropout) in training, whatever else is set.
        with_cp: activation checkpointing: in training with grad enabled, each block's activations are dropped after
            the forward pass and recomputed in backward: about a third more compute for much less activation memory
            (meant for ViT-L on 8 GPUs). Parameter names and state dict keys are unchanged.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, source='auto', encoder='online')``, alone or in a list
            with other initialisers, loads a checkpoint of any layout lgp reads
            (:func:`lgp.models.checkpoint.load_backbone_checkpoint`), strictly, after the initialisation.
        **kwargs: passed to mmpretrain's ``VisionTransformer`` (``drop_rate``, ``qkv_bias``, ``norm_cfg``,
            ``interpolate_mode``, ``layer_cfgs``, ...).
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
        stop_grad_patch_embed: bool = False,
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
        self.mask_ratio = mask_ratio
        self.mask_unit = mask_unit
        if mask_unit > 1:
            check_mask_grid(self.num_patches, mask_unit, self.patch_resolution)
        self.fast_paths = fast_paths
        self.with_cp = with_cp
        self.pos_embed_type = pos_embed_type
        self.pos_embed.requires_grad = pos_embed_type == 'learnable'
        if stop_grad_patch_embed:
            self.patch_embed.requires_grad_(False)
        if self.frozen_stages > 0:  # again: mmpretrain froze them before pos_embed's requires_grad was set above
            self._freeze_stages()

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
        """MAE's initialisation, then the ``init_cfg``'s other initialisers, then a strict load of its ``Pretrained``
        checkpoint, whatever form mmengine accepts the ``init_cfg`` in (a dict or a list; nothing is overwritten)."""
        pretrained, others = split_init_cfg(self.init_cfg)
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
        else:
            trunc_normal_(self.pos_embed, std=0.02)
        if others:
            initialize(self, others)
        if pretrained is not None:
            load_backbone_checkpoint(self, **pretrained)
        self._is_init = True

    def forward(self, x: torch.Tensor, mask: bool = False) -> tuple | tuple[torch.Tensor, ...]:
        """Encode images x (B, C, H, W).

        With ``mask=False`` (as mmpretrain's ``VisionTransformer.forward``): all L patches, CLS first, through every
        block; a tuple with one output per ``out_indices`` entry, formatted by ``out_type`` (``raw``: (B, 1 + L, D)).
        With ``mask=True``: :meth:`forward_masked` (what the MAE decoder needs).
        """
        if mask:
            return self.forward_masked(x)
        x, hw = self.embed(x)
        outs = []
        last = len(self.layers) - 1
        for i in range(len(self.layers)):
            x = self._run_block(i, x, class_token_only=i == last and self.class_token_only_last_block)
            if i == last and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Images (B, C, H, W) -> tokens (B, 1 + L, D), CLS first, with positions, and the patch grid (h, w)."""
        x, hw = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return self.pre_norm(self.drop_after_pos(x + self.resized_pos_embed(hw))), hw

    def forward_tokens(self, x: torch.Tensor, final_norm: bool | None = None) -> torch.Tensor:
        """Every token of images x (B, C, H, W) after the last block, (B, 1 + L, D), CLS first.

        ``final_norm`` chooses whether the final norm is applied (default: the backbone's setting); CMAE's target
        encoder reads its tokens without it.
        """
        x, _ = self.embed(x)
        for i in range(len(self.layers)):
            x = self._run_block(i, x)
        return self.ln1(x) if (self.final_norm if final_norm is None else final_norm) else x

    def _run_block(self, i: int, x: torch.Tensor, class_token_only: bool = False) -> torch.Tensor:
        """Block ``i`` on tokens x (B, N, D) -> (B, N, D), or (B, 1, D) for the CLS token alone.

        Checkpointed when ``with_cp``, training and grad enabled.
        """
        block: Callable[[torch.Tensor], torch.Tensor] = self.layers[i]
        if class_token_only:
            block = partial(partial_block, block)
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(block, x, use_reentrant=False)
        return block(x)

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
        """
        x, hw = self.patch_embed(x)
        pos_embed = self.resized_pos_embed(hw)
        x, mask, ids_restore = random_masking(
            x + pos_embed[:, 1:],
            self.mask_ratio if mask_ratio is None else mask_ratio,
            noise,
            unit=self.mask_unit,
            grid=hw,
        )
        cls_token = (self.cls_token + pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = self.pre_norm(self.drop_after_pos(torch.cat((cls_token, x), dim=1)))
        for i in range(len(self.layers)):
            x = self._run_block(i, x)
        if self.final_norm:
            x = self.ln1(x)
        return x, mask, ids_restore

    def resized_pos_embed(self, hw: tuple[int, int]) -> torch.Tensor:
        """The position embedding (1, 1 + h * w, D) for a patch grid ``hw``, interpolated if it differs."""
        return resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens,
        )

    def layer_id(self, param_name: str) -> int:
        """Depth of a backbone parameter: 0 for the embeddings, ``i + 1`` for block ``i``, ``L + 1`` for the rest.

        This is the block map optimiser constructors use (layer decay: scale = decay ** (L + 1 - layer_id)).
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


__all__ = ['ARCHS', 'LGPViT', 'check_mask_grid', 'random_masking']
