"""Pre-training algorithms over :class:`~lgp.models.LGPViT`: MAE (MIM), MoCo v3 (CL), Layer Grafted Pre-training
(MIM -> CL), the MTL combination baseline, CMAE and ConMIM."""

from .cmae import CMAE
from .conmim import ConMIM
from .grafted import GraftedMoCoV3, graft_encoder
from .mae import LGPMAE, mae_loss, reconstruction_loss
from .mocov3 import LGPMoCoV3
from .mtl import MTLMAEMoCoV3

__all__ = [
    'CMAE',
    'LGPMAE',
    'ConMIM',
    'GraftedMoCoV3',
    'LGPMoCoV3',
    'MTLMAEMoCoV3',
    'graft_encoder',
    'mae_loss',
    'reconstruction_loss',
]
