"""lgp's registered models: the ViT backbone, the pre-training algorithms and the evaluation heads."""

from .algorithms import CMAE, LGPMAE, ConMIM, GraftedMoCoV3, LGPMoCoV3, MTLMAEMoCoV3
from .backbones import LGPViT
from .heads import LinearProbeHead, MultiLinearProbeHead, ProjectorClsHead

__all__ = [
    'CMAE',
    'LGPMAE',
    'ConMIM',
    'GraftedMoCoV3',
    'LGPMoCoV3',
    'LGPViT',
    'LinearProbeHead',
    'MTLMAEMoCoV3',
    'MultiLinearProbeHead',
    'ProjectorClsHead',
]
