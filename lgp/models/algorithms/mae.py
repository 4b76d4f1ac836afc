"""MAE pre-training with :class:`~lgp.models.LGPViT`: mmpretrain's MAE, asking the backbone for masking explicitly.

mmpretrain's ``MAE.loss`` calls ``self.backbone(inputs)`` and relies on ``MAEViT`` masking by default; ``LGPViT``
encodes plainly by default and masks only with ``mask=True``, so this subclass says which one it wants. Neck and
head are mmpretrain's ``MAEPretrainDecoder`` and ``MAEPretrainHead`` (``norm_pix=True``, L2
``PixelReconstructionLoss`` on the masked patches).

Symbols: B batch, C channels, H x W image, p patch size, L = (H / p) * (W / p) patches,
L_keep = int(L * (1 - mask_ratio)), D encoder width.
"""

import torch
from mmpretrain.models.selfsup import MAE as MMPretrainMAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .finite_loss import FiniteLossMixin


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
        """MAE loss of a batch of images (B, C, H, W), normalised by the data preprocessor.

        The encoder sees L_keep random patches: ``latent`` (B, 1 + L_keep, D), ``mask`` (B, L) with 1 = masked,
        ``ids_restore`` (B, L). The decoder predicts every patch, ``pred`` (B, L, p * p * C), and the head
        averages the squared error against the per-patch normalised pixels over the masked patches only.

        Returns:
            ``{'loss': scalar tensor}``.
        """
        latent, mask, ids_restore = self.backbone(inputs, mask=True)
        pred = self.neck(latent, ids_restore)
        return {'loss': self.head.loss(pred, inputs, mask)}


__all__ = ['MAE']
