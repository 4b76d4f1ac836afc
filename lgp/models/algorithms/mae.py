"""MAE (He et al., 2022), the masked image modelling (MIM) step of Layer Grafted Pre-training.

The encoder sees a random ``1 - mask_ratio`` of the patches; the decoder fills the rest with mask tokens and predicts
their pixels; the loss is the mean squared error against the per-patch normalised pixels (``norm_pix``) of the
masked patches only. Encoder: :class:`lgp.models.LGPViT` (``forward(x, mask=True)``); decoder and head: mmpretrain's
``MAEPretrainDecoder`` and ``MAEPretrainHead``.

Symbols: B batch, C channels, H x W image, p patch size, L = (H / p) * (W / p) patches,
L_keep = int(L * (1 - mask_ratio)), D encoder width.
"""

import torch
import torch.nn as nn
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.models.selfsup import MAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .. import fast_paths
from .finite_loss import FiniteLossMixin


def mae_loss(
    backbone: nn.Module, decoder: nn.Module, head: MAEPretrainHead, images: torch.Tensor, fast: bool = True
) -> torch.Tensor:
    """L_MIM of images (B, C, H, W), normalised: reconstruct the masked patches from the visible ones.

    The encoder gives ``latent`` (B, 1 + L_keep, D), ``mask`` (B, L) with 1 = masked and ``ids_restore`` (B, L); then
    :func:`reconstruction_loss`.
    """
    latent, mask, ids_restore = backbone(images, mask=True)
    return reconstruction_loss(decoder, head, latent, mask, ids_restore, images, fast)


def reconstruction_loss(
    decoder: nn.Module,
    head: MAEPretrainHead,
    latent: torch.Tensor,
    mask: torch.Tensor,
    ids_restore: torch.Tensor,
    images: torch.Tensor,
    fast: bool = True,
) -> torch.Tensor:
    """The pixel loss of an encoded masked view: the decoder predicts every patch of ``images`` (B, C, H, W) from
    ``latent`` (B, 1 + L_keep, D), (B, L, p * p * C); the head averages the squared error over the masked ones
    (``mask`` (B, L), 1 = masked). With ``fast``, :func:`lgp.models.fast_paths.masked_only_mae_loss` computes the same
    for the masked patches only."""
    if fast and fast_paths.masked_only_decoding_applies(decoder):
        return fast_paths.masked_only_mae_loss(decoder, head, latent, mask, ids_restore, images)
    return head.loss(decoder(latent, ids_restore), images, mask)


@MODELS.register_module()
class LGPMAE(FiniteLossMixin, MAE):
    """mmpretrain's ``MAE`` over a backbone that masks when asked (``forward(x, mask=True)``, as ``LGPViT``).

    Args:
        fast_paths: use :mod:`lgp.models.fast_paths` where they apply (same loss, less work).
        **kwargs: those of mmpretrain's ``BaseSelfSupervisor``: ``backbone`` (an ``LGPViT`` config), ``neck``
            (``MAEPretrainDecoder``: ``num_patches`` = L, ``patch_size`` = p, ``embed_dim`` = D), ``head``
            (``MAEPretrainHead``), ``data_preprocessor`` (``SelfSupDataPreprocessor``), ``init_cfg``.
    """

    def __init__(self, fast_paths: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fast_paths = fast_paths

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Unmasked features of images (B, C, H, W): the backbone's outputs, shaped by its ``out_type``."""
        return self.backbone(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Images (B, C, H, W), normalised by the data preprocessor -> ``{'loss': L_MIM}`` (:func:`mae_loss`)."""
        return {'loss': mae_loss(self.backbone, self.neck, self.head, inputs, self.fast_paths)}


__all__ = ['LGPMAE', 'mae_loss', 'reconstruction_loss']
