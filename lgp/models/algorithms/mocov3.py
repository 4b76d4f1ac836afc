"""MoCo v3 (contrastive learning, CL) and its Layer Grafted variant (MoCo v3 continued from MAE weights).

MoCo v3: q = predictor(projector(f(x))), k = projector_m(f_m(x)) from the momentum encoder (f_m, projector_m), an
exponential moving average of (f, projector) whose momentum follows a cosine from 0.99 to 1 over training. With two
views x1, x2 of each image, the symmetric InfoNCE loss is

    L_CL = CE(q1 k2^T / T, labels) + CE(q2 k1^T / T, labels),   each term multiplied by 2T,

where the keys k are gathered from every process (the negatives of a sample are all other images of the global
batch) and labels index the sample's own key in that global batch.
"""

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import MoCoV3 as MMPretrainMoCoV3
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.nn.modules.batchnorm import _BatchNorm

from .finite_loss import FiniteLossMixin


@MODELS.register_module(name='LGPMoCoV3')
class MoCoV3(FiniteLossMixin, MMPretrainMoCoV3):
    """MoCo v3 on an lgp backbone: mmpretrain's algorithm with the contrastive loss as a reusable method.

    The momentum encoder is mmpretrain's ``CosineEMA`` over ``Sequential(backbone, neck)``: its first update copies
    the online weights, so it starts from whatever the backbone was initialised with (for Layer Grafted
    Pre-training: the MAE checkpoint). ``base_momentum=0.01`` is the paper's momentum 0.99 (mmengine counts the
    weight of the new value).

    Args:
        backbone: the encoder f (:class:`lgp.models.LGPViT`, ``out_type='cls_token'``).
        neck: the projector (mmpretrain ``NonLinearNeck``: D -> 4096 -> 4096 -> 256, BN + ReLU, no bias).
        head: ``MoCoV3Head`` with the predictor (256 -> 4096 -> 256) and ``CrossEntropyLoss(loss_weight=2T)``.
        base_momentum: 1 - m at the start of training (0.01: m = 0.99), annealed to 0 (m = 1) on a cosine.
    """

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Two views, each (B, C, H, W) -> ``dict(loss=L_CL)``."""
        return dict(loss=self.contrastive_loss(inputs[0], inputs[1]))

    def contrastive_loss(
        self, view_1: torch.Tensor, view_2: torch.Tensor, update_momentum: bool = True
    ) -> torch.Tensor:
        """Symmetric MoCo v3 loss of two batches of views (B, C, H, W).

        The momentum encoder is updated first (training); ``update_momentum=False`` leaves it as it is (analysis).

        The result is mmpretrain's per-view computation, done faster: a ViT normalises per token (LayerNorm), so
        when the views have the same shape and the backbone holds no BatchNorm, both views go through the backbone
        (and the momentum backbone) as one batch of 2B, fewer and larger matrix products, and are split into the
        views before the projector, whose BatchNorm (as the predictor's) still sees each view's own batch and
        updates its running statistics view 1 first. The momentum backbone runs before the online forward pass,
        so that its temporaries do not add to the stored activations at the peak; the momentum projector then
        takes the online projector's BatchNorm statistics of this step, as ``update_parameters`` (which copies
        buffers) would have given it. Only stochastic layers (drop path, dropout) draw their random numbers in
        another order.
        """
        fuse = view_1.shape == view_2.shape and not self.momentum_encoder.update_buffers
        if not fuse or any(isinstance(m, _BatchNorm) for m in self.backbone.modules()):
            q1, q2 = self.neck(self.backbone(view_1))[0], self.neck(self.backbone(view_2))[0]
            with torch.no_grad():
                if update_momentum:
                    self.momentum_encoder.update_parameters(nn.Sequential(self.backbone, self.neck))
                k1, k2 = self.momentum_encoder(view_1)[0], self.momentum_encoder(view_2)[0]
            return self.head.loss(q1, k2) + self.head.loss(q2, k1)
        batch = view_1.shape[0]
        views = torch.cat((view_1, view_2))
        momentum_backbone, momentum_neck = self.momentum_encoder.module
        with torch.no_grad():
            if update_momentum:
                self.momentum_encoder.update_parameters(nn.Sequential(self.backbone, self.neck))
            g1, g2 = zip(*(out.split(batch) for out in momentum_backbone(views)), strict=True)
        f1, f2 = zip(*(out.split(batch) for out in self.backbone(views)), strict=True)
        q1, q2 = self.neck(f1)[0], self.neck(f2)[0]
        with torch.no_grad():
            if update_momentum:
                for averaged, online in zip(momentum_neck.buffers(), self.neck.buffers(), strict=True):
                    averaged.copy_(online)
            k1, k2 = momentum_neck(g1)[0], momentum_neck(g2)[0]
        return self.head.loss(q1, k2) + self.head.loss(q2, k1)


@MODELS.register_module()
class GraftedMoCoV3(MoCoV3):
    """Layer Grafted Pre-training, step 2: MoCo v3 continued from MAE weights (MIM -> CL).

    The graft itself lives in the configuration: the backbone is initialised from the MAE checkpoint
    (``init_cfg=dict(type='Pretrained', ...)``), its patch embedding is kept at the MAE weights
    (``stop_grad_patch_embed=True``), and :class:`lgp.engine.GraftedOptimWrapperConstructor` gives the lower blocks
    a small learning rate (0.1x for cls_token and blocks 0-7 of ViT-B). This class adds the ViT-L recipe's optional
    L1 pull of the lower blocks toward their MAE weights theta_MAE:

        L = L_CL + anchor_weight * sum_{p in anchored} |theta_p - theta_MAE_p|_1   (an unnormalised sum).

    Args:
        anchor_weight: weight of the L1 pull (ViT-L: 1e-5); 0 disables it.
        anchor_blocks: half-open range of blocks pulled (ViT-L: (0, 12)); the trainable embeddings (cls_token) are
            pulled too whenever the range starts at block 0.
        **kwargs: see :class:`MoCoV3`.
    """

    def __init__(self, anchor_weight: float = 0.0, anchor_blocks: tuple[int, int] = (0, 0), **kwargs) -> None:
        super().__init__(**kwargs)
        self.anchor_weight = anchor_weight
        self.anchor_blocks = tuple(anchor_blocks)
        self.anchor = nn.Module()  # theta_MAE of the anchored parameters, as buffers (saved, so resume is exact)
        if anchor_weight > 0:
            for name, param in self.anchored_parameters().items():
                self.anchor.register_buffer(name.replace('.', '__'), torch.zeros_like(param))

    def anchored_parameters(self) -> dict[str, nn.Parameter]:
        """Trainable backbone parameters under the L1 pull, by name."""
        start, end = self.anchor_blocks
        lowest, highest = (start + 1, end) if start > 0 else (0, end)  # layer ids: embeddings 0, block i -> i + 1
        return {
            name: p
            for name, p in self.backbone.named_parameters()
            if p.requires_grad and lowest <= self.backbone.layer_id(name) <= highest
        }

    def init_weights(self) -> None:
        """Initialise (load the MAE checkpoint), then record theta_MAE of the anchored parameters."""
        super().init_weights()
        if self.anchor_weight > 0:
            anchors = dict(self.anchor.named_buffers())
            for name, param in self.anchored_parameters().items():
                anchors[name.replace('.', '__')].copy_(param.detach())

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Two views -> ``dict(loss=L_CL)``, plus ``loss_anchor`` when the L1 pull is on."""
        losses = super().loss(inputs, data_samples)
        if self.anchor_weight > 0:
            losses['loss_anchor'] = self.anchor_weight * self.anchor_distance()
        return losses

    def anchor_distance(self) -> torch.Tensor:
        """sum |theta - theta_MAE| over the anchored parameters."""
        anchors = dict(self.anchor.named_buffers())
        return sum((p - anchors[name.replace('.', '__')]).abs().sum() for name, p in self.anchored_parameters().items())
