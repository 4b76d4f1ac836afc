# 300 epochs: linear warm-up over 40 epochs, then cosine to 0 at the end of training, both stepped every iteration.
# The run's length is train_cfg.max_epochs alone (the cosine takes mmengine's default end, the last epoch); the
# warm-up is param_scheduler[0].end = param_scheduler[1].begin. The original warm-up starts at lr 0; mmengine's
# LinearLR needs a start factor > 0, so it starts at 1e-4 of the peak (docs/recipes.md). eta_min stays 0: an absolute
# floor would bend the per-group lr ratios of layer-wise learning rates at the end.
from mmengine.optim import CosineAnnealingLR, LinearLR
from mmengine.runner import EpochBasedTrainLoop

param_scheduler = [
    dict(type=LinearLR, start_factor=1e-4, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, eta_min=0.0, by_epoch=True, begin=40, convert_to_iter_based=True),
]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=300)
