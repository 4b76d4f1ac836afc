# ConMIM (Yi et al., ICLR 2023; the official code) on a BEiT-style ViT-B/16 LGPViT: no absolute position embedding, one
# relative position bias shared by all blocks, layer scale 0.1, BEiT's initialisation; the mask token belongs to the
# algorithm, so the encoder's weights are those of a transfer backbone. Per-token projector 768 -> 4096 -> 4096 -> 256
# (no biases, BN + ReLU between, a last BN without affine, initialised as the official code: truncated normal, std
# 0.02); the slow model's momentum 0.996 -> 1 on a cosine (base_momentum = 1 - 0.996); tau 0.1. The projector's BN is
# per GPU, as in the official code (sync_bn is not set).
from mmengine.config import read_base
from mmengine.model import ConstantInit, TruncNormalInit

from lgp.models import ConMIM

with read_base():
    from .lgp_vit_b import backbone
    from .mocov3_vit_b import projector  # the same MLP: 768 -> 4096 -> 4096 -> 256, no biases, last BN no affine

# the architecture of a ConMIM encoder, also for every protocol that evaluates one (configs/benchmarks, the study)
beit_style = dict(pos_embed_type='none', rel_pos_bias=True, layer_scale_init_value=0.1, init_scheme='beit')
model = dict(
    type=ConMIM,
    backbone=dict(backbone, **beit_style),
    neck=dict(
        projector,
        init_cfg=[
            dict(type=TruncNormalInit, layer='Linear', std=0.02, a=-0.02, b=0.02),
            dict(type=ConstantInit, layer=['_BatchNorm'], val=1.0, bias=0.0),
        ],
    ),
    temperature=0.1,
    base_momentum=0.004,
    contrast='patch',
    slow_model=True,
)
del backbone, projector
