"""CMAE (Huang et al., 2022): Contrastive Masked Autoencoders, MAE and a contrast on one online encoder.

Per image, one master crop gives two views (:class:`lgp.datasets.transforms.PixelShiftViews`): the online view x_s
(its top-left crop) and the target view x_t (the same crop shifted by a few pixels, with colour augmentation).

* **Online branch.** The encoder f sees the visible ``mask_unit`` squares of x_s (CMAE: 2x2 patches, 65 % masked).
  The pixel decoder (MAE's) predicts every patch, and L_rec is MAE's loss on the masked ones (norm_pix). The
  feature decoder, the same design with its own weights and 2 blocks, predicts a feature for every patch; their
  mean goes through the projector g and the predictor h: q = h(g(mean_j d_f(f(x_s))_j)).
* **Target branch.** f_t and g_t, an EMA of f and g (momentum 0.996, fixed), see the whole of x_t; the mean of
  f_t's patch tokens (no CLS, no final norm, as the official code) gives k = g_t(mean_j f_t(x_t)_j), no gradient.
* **Loss.** L = L_rec + lambda_c * 2 tau * CE(q k^T / tau, labels), one direction, q and k L2-normalised, the keys
  gathered from every process (the negatives are the other images of the global batch), tau = 0.07, lambda_c = 1:
  the contrastive term is mmpretrain's ``MoCoV3Head`` with its predictor h.

The decoders are not averaged; the target encoder is ``momentum_encoder.module.0`` and the target projector
``momentum_encoder.module.1``, the places MoCo v3 uses, so checkpoints read the same way (``encoder='momentum'``).

Symbols: B batch, L patches, L_keep kept patches, D encoder width, p patch size, C channels.
"""

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..momentum import update_momentum_encoder
from .finite_loss import FiniteLossMixin
from .mae import reconstruction_loss


@MODELS.register_module()
class CMAE(FiniteLossMixin, BaseSelfSupervisor):
    """Contrastive Masked Autoencoders over an lgp backbone that masks when asked (see the module docstring).

    Args:
        backbone: the online encoder f (:class:`lgp.models.LGPViT` with ``mask_ratio=0.65, mask_unit=2``).
        neck: the pixel decoder (mmpretrain ``MAEPretrainDecoder``, 8 blocks at ViT-B).
        head: the pixel loss (mmpretrain ``MAEPretrainHead``, ``norm_pix=True``).
        feature_decoder: the feature decoder (``MAEPretrainDecoder``, 2 blocks), whose per-patch output width
            p * p * ``in_chans`` must be the encoder's D.
        projector: g (mmpretrain ``NonLinearNeck``: D -> 1536 -> 256, BN + ReLU, biases, no last BN).
        contrast_head: mmpretrain ``MoCoV3Head`` with the predictor h (256 -> 1536 -> 256), ``temperature`` tau and
            ``CrossEntropyLoss(loss_weight=2 tau)``.
        contrast_weight: lambda_c.
        target_momentum: m of the EMA target (0.996): theta_t <- m theta_t + (1 - m) theta.
        target_final_norm: apply the final norm to the target encoder's tokens (the official code does not).
        fast_paths: use :mod:`lgp.models.fast_paths` where they apply (same loss, less work).
        **kwargs: ``data_preprocessor`` (``SelfSupDataPreprocessor``), ``init_cfg``.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        head: dict,
        feature_decoder: dict,
        projector: dict,
        contrast_head: dict,
        contrast_weight: float = 1.0,
        target_momentum: float = 0.996,
        target_final_norm: bool = False,
        fast_paths: bool = True,
        **kwargs,
    ) -> None:
        if not 0.0 <= target_momentum < 1.0:
            raise ValueError(f'target_momentum must be in [0, 1), got {target_momentum}.')
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        self.feature_decoder = MODELS.build(feature_decoder)
        self.projector = MODELS.build(projector)
        self.contrast_head = MODELS.build(contrast_head)
        width = self.feature_decoder.decoder_pred.out_features
        if width != self.backbone.embed_dims:
            raise ValueError(
                f'The feature decoder predicts {width} features per patch, but the target encoder gives '
                f'{self.backbone.embed_dims}: set its in_chans so that patch_size**2 * in_chans equals the encoder '
                'width (ViT-B/16: 16 * 16 * 3 = 768).'
            )
        self.contrast_weight = contrast_weight
        self.target_final_norm = target_final_norm
        self.fast_paths = fast_paths
        # mmengine counts the weight of the new value: 1 - m. Its first update copies the online weights.
        self.momentum_encoder = ExponentialMovingAverage(
            nn.Sequential(self.backbone, self.projector), momentum=1.0 - target_momentum
        )

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Unmasked features of images (B, C, H, W): the online encoder's outputs, shaped by its ``out_type``."""
        return self.backbone(inputs)

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Views ``[x_s, x_t]``, each (B, C, H, W) -> ``dict(loss_rec=L_rec, loss_contrast=lambda_c * L_c)``.

        The target is updated and run first, so that its temporaries do not stack on the online branch's
        stored activations.
        """
        online_view, target_view = inputs
        with torch.no_grad():
            update_momentum_encoder(self.momentum_encoder, nn.Sequential(self.backbone, self.projector))
            key = self.target_projection(target_view)
        latent, mask, ids_restore = self.backbone(online_view, mask=True)
        loss_rec = reconstruction_loss(self.neck, self.head, latent, mask, ids_restore, online_view, self.fast_paths)
        query = self.online_projection(latent, ids_restore)
        return dict(loss_rec=loss_rec, loss_contrast=self.contrast_weight * self.contrast_head.loss(query, key))

    def online_projection(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """g(mean of the feature decoder's L outputs), (B, 256), from the encoded visible patches (B, 1 + L_keep, D)."""
        features = self.feature_decoder(latent, ids_restore)  # (B, L, D), CLS removed
        return self.projector([features.mean(dim=1)])[0]

    def target_projection(self, images: torch.Tensor) -> torch.Tensor:
        """g_t(mean of f_t's L patch tokens), (B, 256), of whole images (B, C, H, W)."""
        target_encoder, target_projector = self.momentum_encoder.module
        tokens = target_encoder.forward_tokens(images, final_norm=self.target_final_norm)
        return target_projector([tokens[:, 1:].mean(dim=1)])[0]


__all__ = ['CMAE']
