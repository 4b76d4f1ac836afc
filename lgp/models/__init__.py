"""lgp's registered models: the ViT backbone and the pre-training algorithms."""

from .algorithms import MAE, GraftedMoCoV3, MoCoV3, MTLMAEMoCoV3
from .backbones import LGPViT
from .heads import LinearProbeHead, MultiLinearProbeHead, ProjectorClsHead

__all__ = [
    'MAE',
    'GraftedMoCoV3',
    'LGPViT',
    'LinearProbeHead',
    'MoCoV3',
    'MTLMAEMoCoV3',
    'MultiLinearProbeHead',
    'ProjectorClsHead',
]
