"""Pre-training algorithms over :class:`~lgp.models.LGPViT`: MAE (MIM), MoCo v3 (CL), Layer Grafted Pre-training
(MIM -> CL) and the MTL combination baseline."""

from .mae import MAE
from .mocov3 import GraftedMoCoV3, MoCoV3
from .mtl import MTLMAEMoCoV3

__all__ = ['MAE', 'GraftedMoCoV3', 'MoCoV3', 'MTLMAEMoCoV3']
