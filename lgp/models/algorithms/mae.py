"""MAE pre-training with :class:`~lgp.models.LGPViT`: mmpretrain's MAE, asking the backbone for masking explicitly.

mmpretrain's ``MAE.loss`` calls ``self.backbone(inputs)`` and relies on ``MAEViT`` masking by default; ``LGPViT``
encodes plainly by default and masks only with ``mask=True``, so this subclass says which one it wants. Neck and
head are mmpretrain's ``MAEPretrainDecoder`` and ``MAEPretrainHead`` (``norm_pix=True``, L2
``PixelReconstructionLoss`` on the masked patches).

Symbols: B batch, C channels, H x W image, p patch size, L = (H / p) * (W / p) patches,
L_keep = int(L * (1 - mask_ratio)), D encoder width.
"""

import torch
import torch.nn as nn
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.models.selfsup import MAE as MMPretrainMAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import has_standard_parts, partial_block
from .finite_loss import FiniteLossMixin


def mae_loss(
    backbone: nn.Module, decoder: MAEPretrainDecoder, head: MAEPretrainHead, images: torch.Tensor
) -> torch.Tensor:
    """L_MIM of images (B, C, H, W), normalised: the head's loss on the masked patches, predicted from the visible.

    The encoder sees L_keep random patches: ``latent`` (B, 1 + L_keep, D), ``mask`` (B, L) with 1 = masked,
    ``ids_restore`` (B, L). The loss only reads the decoder's predictions of the L - L_keep masked patches, so with
    mmpretrain's ``MAEPretrainDecoder`` the last decoder block, the norm and the prediction run for those alone
    (:func:`decode_masked`); any other decoder predicts every patch, (B, L, p * p * C), for ``head.loss``.
    """
    latent, mask, ids_restore = backbone(images, mask=True)
    if type(decoder) is not MAEPretrainDecoder or not has_standard_parts(decoder.decoder_blocks[-1]):
        return head.loss(decoder(latent, ids_restore), images, mask)
    masked = torch.argsort(mask, dim=1, stable=True)[:, latent.shape[1] - 1 :]  # (B, L - L_keep) patch indices
    target = head.construct_target(images)
    target = target.gather(1, masked.unsqueeze(-1).expand(-1, -1, target.shape[-1]))
    pred = decode_masked(decoder, latent, ids_restore, masked)
    return head.loss_module(pred, target, torch.ones_like(masked, dtype=target.dtype))


def decode_masked(
    decoder: MAEPretrainDecoder, latent: torch.Tensor, ids_restore: torch.Tensor, masked: torch.Tensor
) -> torch.Tensor:
    """``MAEPretrainDecoder.forward`` for the patches ``masked`` (B, M) only: latent (B, 1 + L_keep, D) -> (B, M, P).

    The same predictions as the full decoder at those patches (P = p * p * C); the last block runs for the M
    patches alone (:func:`lgp.models.utils.partial_block`), for MAE ViT-B 1.7 % of the work of a training step saved.
    """
    x = decoder.decoder_embed(latent)
    batch, visible, dims = x.shape
    mask_tokens = decoder.mask_token.expand(batch, ids_restore.shape[1] + 1 - visible, -1)
    patches = torch.cat((x[:, 1:], mask_tokens), dim=1).gather(1, ids_restore.unsqueeze(-1).expand(-1, -1, dims))
    x = torch.cat((x[:, :1], patches), dim=1) + decoder.decoder_pos_embed
    for block in decoder.decoder_blocks[:-1]:
        x = block(x)
    x = partial_block(decoder.decoder_blocks[-1], x, 1 + masked)
    return decoder.decoder_pred(decoder.decoder_norm(x))


# mmpretrain already registers an ``MAE``; this one is registered as ``LGPMAE`` (configs use the class itself).
@MODELS.register_module(name='LGPMAE')
class MAE(FiniteLossMixin, MMPretrainMAE):
    """Masked autoencoder (He et al., 2022) over a backbone whose ``forward(x, mask=True)`` masks.

    Args: those of mmpretrain's ``BaseSelfSupervisor``: ``backbone`` (an ``LGPViT`` config), ``neck``
    (``MAEPretrainDecoder``: ``num_patches`` = L, ``patch_size`` = p, ``embed_dim`` = D), ``head``
    (``MAEPretrainHead``), ``data_preprocessor`` (``SelfSupDataPreprocessor``), ``init_cfg``.
    """

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Unmasked features of images (B, C, H, W): the backbone's outputs, shaped by its ``out_type``."""
        return self.backbone(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """MAE loss of a batch of images (B, C, H, W), normalised by the data preprocessor: ``{'loss': L_MIM}``.

        The head averages the squared error against the per-patch normalised pixels over the masked patches only
        (see :func:`mae_loss`).
        """
        return {'loss': mae_loss(self.backbone, self.neck, self.head, inputs)}


__all__ = ['MAE', 'decode_masked', 'mae_loss']
