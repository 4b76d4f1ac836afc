"""The MTL combination baseline (paper, Table 1): one encoder trained on L_MIM + lambda * L_CL at once."""

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .mae import mae_loss
from .mocov3 import LGPMoCoV3


@MODELS.register_module()
class MTLMAEMoCoV3(LGPMoCoV3):
    """MAE and MoCo v3 on one shared encoder, the losses summed at the end.

    Per image the pipeline yields three views: one lightly augmented (MAE's crop + flip) for the MAE loss, two
    strongly augmented for the MoCo v3 loss. The total loss is ``L_MIM + cl_weight * L_CL``; the paper shows the
    two gradients conflict, more so in deeper blocks (:mod:`lgp.analysis.gradient_conflict`).

    Args:
        mim_neck: the MAE decoder (``MAEPretrainDecoder``, with MAE's initialisation in its ``init_cfg``).
        mim_head: the MAE head (``MAEPretrainHead``, ``norm_pix=True``).
        cl_weight: lambda, the weight of the contrastive loss.
        **kwargs: those of :class:`LGPMoCoV3` (backbone, projector ``neck``, ``head``, ``base_momentum``).
    """

    def __init__(self, mim_neck: dict, mim_head: dict, cl_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mim_neck = MODELS.build(mim_neck)
        self.mim_head = MODELS.build(mim_head)
        self.cl_weight = cl_weight

    def mim_loss(self, images: torch.Tensor) -> torch.Tensor:
        """MAE loss of images (B, C, H, W): reconstruct the masked patches from the visible ones."""
        return mae_loss(self.backbone, self.mim_neck, self.mim_head, images, self.fast_paths)

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Views ``[mae_view, cl_view_1, cl_view_2]`` -> ``dict(loss_mim=L_MIM, loss_cl=lambda * L_CL)``."""
        mim_view, cl_view_1, cl_view_2 = inputs
        return dict(
            loss_mim=self.mim_loss(mim_view), loss_cl=self.cl_weight * self.contrastive_loss(cl_view_1, cl_view_2)
        )


__all__ = ['MTLMAEMoCoV3']
