"""MoCo v3 (Chen et al., 2021), the contrastive learning (CL) step.

q = predictor(projector(f(x))), k = projector_m(f_m(x)) from the momentum encoder (f_m, projector_m), an exponential
moving average of (f, projector) whose momentum follows a cosine from 0.99 to 1 over training. With two views x1, x2
of each image, the symmetric InfoNCE loss is

    L_CL = CE(q1 k2^T / T, labels) + CE(q2 k1^T / T, labels),   each term multiplied by 2T,

where the keys k are gathered from every process (the negatives of a sample are all other images of the global
batch) and labels index the sample's own key in that global batch (mmpretrain's ``MoCoV3Head``).
"""

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import MoCoV3
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .. import fast_paths
from ..momentum import update_momentum_encoder
from .finite_loss import FiniteLossMixin


@MODELS.register_module()
class LGPMoCoV3(FiniteLossMixin, MoCoV3):
    """mmpretrain's ``MoCoV3`` on an lgp backbone, with the contrastive loss as a method other algorithms reuse.

    The momentum encoder is mmpretrain's ``CosineEMA`` over ``Sequential(backbone, neck)``: its first update copies
    the online weights, so it starts from whatever the backbone was initialised with (for Layer Grafted
    Pre-training: the step-1 checkpoint). ``base_momentum=0.01`` is the paper's momentum 0.99 (mmengine counts the
    weight of the new value).

    Args:
        backbone: the encoder f (:class:`lgp.models.LGPViT`, ``out_type='cls_token'``).
        neck: the projector (mmpretrain ``NonLinearNeck``: D -> 4096 -> 4096 -> 256, BN + ReLU, no bias).
        head: ``MoCoV3Head`` with the predictor (256 -> 4096 -> 256) and ``CrossEntropyLoss(loss_weight=2T)``.
        base_momentum: 1 - m at the start of training (0.01: m = 0.99), annealed to 0 (m = 1) on a cosine.
        fast_paths: use :mod:`lgp.models.fast_paths` where they apply (same loss, less work).
    """

    def __init__(self, fast_paths: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fast_paths = fast_paths

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Two views, each (B, C, H, W) -> ``dict(loss=L_CL)``."""
        return dict(loss=self.contrastive_loss(inputs[0], inputs[1]))

    def contrastive_loss(
        self, view_1: torch.Tensor, view_2: torch.Tensor, update_momentum: bool = True
    ) -> torch.Tensor:
        """L_CL of two batches of views (B, C, H, W); the momentum encoder is updated first, unless
        ``update_momentum=False`` (analysis). With ``fast_paths``, both views go through the backbones as one batch
        where that gives the same loss (:func:`lgp.models.fast_paths.contrastive_loss_one_pass`)."""
        if self.fast_paths and fast_paths.one_pass_applies(self, view_1, view_2):
            return fast_paths.contrastive_loss_one_pass(self, view_1, view_2, update_momentum)
        q1, q2 = self.neck(self.backbone(view_1))[0], self.neck(self.backbone(view_2))[0]
        with torch.no_grad():
            if update_momentum:
                update_momentum_encoder(self.momentum_encoder, nn.Sequential(self.backbone, self.neck))
            k1, k2 = self.momentum_encoder(view_1)[0], self.momentum_encoder(view_2)[0]
        return self.head.loss(q1, k2) + self.head.loss(q2, k1)


__all__ = ['LGPMoCoV3']
