# Linear probing (mmpretrain's MoCo v3 ViT benchmark): SGD lr 12 at batch 1024 (3 x batch / 256, rescaled to the actual
# total batch by auto_scale_lr), momentum 0.9, no weight decay; cosine to 0 over the 90 epochs, stepped per epoch as
# the original lincls. GraftedOptimWrapperConstructor leaves the frozen encoder out of the optimiser (and logs it).
from mmengine.optim import CosineAnnealingLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, TestLoop, ValLoop
from torch.optim import SGD

from lgp.engine import GraftedOptimWrapperConstructor

base_lr = 12.0
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=SGD, lr=base_lr, momentum=0.9, weight_decay=0.0),
    constructor=GraftedOptimWrapperConstructor,
    paramwise_cfg=dict(weight_decay_rule='skip_1d'),
)
param_scheduler = [dict(type=CosineAnnealingLR, eta_min=0.0, by_epoch=True, begin=0)]
train_cfg = dict(type=EpochBasedTrainLoop, max_epochs=90, val_interval=10)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
auto_scale_lr = dict(base_batch_size=1024, enable=True)
