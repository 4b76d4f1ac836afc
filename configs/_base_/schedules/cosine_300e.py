# 300 epochs: linear warm-up from 0 over 40 epochs, then cosine to 0, both stepped every iteration. eta_min stays 0:
# an absolute floor would bend the per-group lr ratios of layer-wise learning rates at the end.
from mmengine.optim import CosineAnnealingLR, LinearLR
from mmengine.runner import EpochBasedTrainLoop

max_epochs = 300
warmup_epochs = 40
param_scheduler = [
    dict(type=LinearLR, start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(
        type=CosineAnnealingLR,
        T_max=max_epochs - warmup_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=max_epochs)
