# cmae_vit_b.py at CPU scale: the nano LGPViT and decoders of mae_vit_nano.py (the feature decoder with 2 blocks; its
# per-patch output, 4 * 4 * 3 = 48 wide, is the encoder's width); projector 48 -> 128 -> 32, predictor 32 -> 128 -> 32.
from mmengine.config import read_base

with read_base():
    from .cmae_vit_b import *
    from .lgp_vit_b import nano
    from .mae_vit_nano import model as mae_model

model.backbone.update(nano)
model.neck = mae_model.neck
model.head = mae_model.head
model.feature_decoder = dict(mae_model.neck, decoder_depth=2)
model.projector.update(in_channels=48, hid_channels=128, out_channels=32)
model.contrast_head.predictor.update(in_channels=32, hid_channels=128, out_channels=32)
del mae_model, nano
