"""ConMIM (Yi et al., ICLR 2023): masked image modelling as denoising contrast among the patches of each image.

Per image, one shared crop and flip give two views (``configs/_base_/datasets/imagenet_conmim.py``): the corrupted
view x_c (the "basic" perturbation: none beyond the crop) and the full view x_f (the "strong" one: colour jitter,
grayscale, blur, solarize). A block-wise mask M covers 75 of the 196 patches of x_c.

* **Queries.** The encoder f, a full-sequence ViT in BEiT's style (:class:`lgp.models.LGPViT` with a shared relative
  position bias and layer scale), sees x_c with the masked patch embeddings replaced by a learned mask token; the
  per-token projector g (D -> 4096 -> 4096 -> 256, BN + ReLU between, a last BN without affine, no biases) maps each
  patch token: q_ij = g(f(x_c))_j.
* **Keys.** The slow model (f_s, g_s), an EMA of (f, g) whose momentum rises from 0.996 to 1 on a cosine, sees the
  whole x_f: k_ij = g_s(f_s(x_f))_j, without gradient.
* **Loss.** The patch-level dictionary of each image: for every masked position j of image i, InfoNCE of q_ij against
  the K = L keys of the same image, the positive being its own position,

      L = mean over (i, j) in M of CE(q_ij k_i^T / tau, j),   q and k L2-normalised, tau = 0.1.

  Gradients flow through the corrupted-view branch only.

The ablations of the paper are switches: ``contrast='instance'`` (the mean of each image's projected patch tokens,
the other images of the global batch as negatives), ``slow_model=False`` (the online model, without gradient, makes
the keys), and the two views' perturbations switched (a data config: ``configs/study/conmim_switched_*``).

Symbols: B batch, L = h * w patches, D encoder width, O projection width, M the masked positions.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_rank
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..momentum import update_momentum_encoder
from .finite_loss import FiniteLossMixin

CONTRASTS = ('patch', 'instance')


def patch_contrast(queries: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """ConMIM's loss: each masked query against the keys of its own image, its own position the positive.

    Args:
        queries: q (B, L, O), L2-normalised.
        keys: k (B, L, O), L2-normalised.
        mask: (B, L) bool, True at the masked positions (the only ones that count).
        temperature: tau.

    Returns:
        The mean over the masked positions of CE(q_ij k_i^T / tau, j).
    """
    logits = torch.einsum('bjo,bko->bjk', queries, keys) / temperature  # (B, L, L)
    positions = torch.arange(queries.shape[1], device=queries.device).expand(queries.shape[0], -1)
    return F.cross_entropy(logits[mask], positions[mask])


def instance_contrast(queries: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """The paper's "vanilla instance-level contrast" ablation: per image, the mean of its projected patch tokens,
    against the means of every image of the global batch (the keys gathered from every process).

    Args:
        queries: (B, L, O) projected patch tokens of the corrupted views.
        keys: (B, L, O) projected patch tokens of the full views.
        temperature: tau.

    Returns:
        CE(q_i k^T / tau, i) averaged over the batch, q_i and k L2-normalised means, (B, B * world size) logits.
    """
    q = F.normalize(queries.mean(dim=1), dim=1)
    k = torch.cat(all_gather(F.normalize(keys.mean(dim=1), dim=1)))
    labels = torch.arange(q.shape[0], device=q.device) + q.shape[0] * get_rank()
    return F.cross_entropy(q @ k.T / temperature, labels)


@MODELS.register_module()
class ConMIM(FiniteLossMixin, BaseSelfSupervisor):
    """Masked Image Modeling with Denoising Contrast over an lgp backbone (see the module docstring).

    Args:
        backbone: the encoder f (:class:`lgp.models.LGPViT` with ``rel_pos_bias=True``, ``pos_embed_type='none'``,
            ``layer_scale_init_value=0.1`` at ViT-B).
        neck: the per-token projector g (mmpretrain ``NonLinearNeck``: D -> 4096 -> 4096 -> 256).
        temperature: tau.
        base_momentum: 1 - m of the slow model at the start of training (0.004: m = 0.996), annealed to 0 (m = 1)
            on a cosine over the run (mmpretrain's ``CosineEMA``; mmengine counts the weight of the new value).
        contrast: ``'patch'`` (ConMIM) or ``'instance'`` (the ablation: :func:`instance_contrast`).
        slow_model: False: the online encoder and projector, without gradient, make the keys (the ablation "w/o
            asymmetric model progress rates").
        **kwargs: ``data_preprocessor`` (``SelfSupDataPreprocessor``), ``init_cfg``.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        temperature: float = 0.1,
        base_momentum: float = 0.004,
        contrast: str = 'patch',
        slow_model: bool = True,
        **kwargs,
    ) -> None:
        if contrast not in CONTRASTS:
            raise ValueError(f'contrast must be one of {CONTRASTS}, got {contrast!r}.')
        super().__init__(backbone=backbone, neck=neck, **kwargs)
        self.temperature, self.contrast = temperature, contrast
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.backbone.embed_dims))
        self.momentum_encoder = (
            CosineEMA(nn.Sequential(self.backbone, self.neck), momentum=base_momentum) if slow_model else None
        )

    def init_weights(self) -> None:
        """Initialise the parts, then the mask token as BEiT does: N(0, 0.02) truncated at +-0.02."""
        super().init_weights()
        trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Unmasked features of images (B, C, H, W): the encoder's outputs, shaped by its ``out_type``."""
        return self.backbone(inputs)

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Views ``[x_c, x_f]``, each (B, C, H, W), and each sample's ``mask`` (h, w) -> ``dict(loss=L)``.

        The keys come first, so that the slow model's temporaries do not stack on the online branch's activations.
        """
        corrupted, full = inputs
        mask = torch.stack([sample.mask for sample in data_samples]).flatten(1).to(corrupted.device).bool()
        with torch.no_grad():
            keys = self.full_view_keys(full)
        tokens = self.backbone.forward_tokens(corrupted, mask=mask, mask_token=self.mask_token)
        queries = project_patches(self.neck, tokens)
        if self.contrast == 'instance':
            return dict(loss=instance_contrast(queries, keys, self.temperature))
        return dict(
            loss=patch_contrast(F.normalize(queries, dim=-1), F.normalize(keys, dim=-1), mask, self.temperature)
        )

    def full_view_keys(self, images: torch.Tensor) -> torch.Tensor:
        """k (B, L, O), not normalised: the slow model's projected patch tokens of the whole images (B, C, H, W),
        the slow model updated first; without a slow model, the online one's."""
        if self.momentum_encoder is None:
            return project_patches(self.neck, self.backbone.forward_tokens(images))
        update_momentum_encoder(self.momentum_encoder, nn.Sequential(self.backbone, self.neck))
        slow_backbone, slow_neck = self.momentum_encoder.module
        return project_patches(slow_neck, slow_backbone.forward_tokens(images))


def project_patches(projector: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The projector on every patch token: tokens (B, 1 + L, D), CLS first -> (B, L, O); its BatchNorm sees all B * L
    patch tokens of the batch, as the official code's."""
    patches = tokens[:, 1:]
    b, length, d = patches.shape
    return projector([patches.reshape(b * length, d)])[0].view(b, length, -1)


__all__ = ['ConMIM', 'instance_contrast', 'patch_contrast', 'project_patches']
