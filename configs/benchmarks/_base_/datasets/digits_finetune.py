# The digits at 32 px for fine-tuning: no augmentation, the test transform of the linear probe for training too.
# The val digits are centred and drawn at one size, as the training ones; a frozen nano encoder's features are not
# invariant to crops or shifts (the demo's MoCo v3 encoder: a linear probe fitted on unaugmented training features
# scores 92 % on them, 40 % on crops of 35-100 % of the area and 50 % on 2-pixel shifts), so any of ImageNet's
# augmentations (a crop down to 8 %, a mirror flip, RandAugment, random erasing) makes fine-tuning learn invariances
# from 1.4k images instead of the task, and ends below the linear probe (docs/recipes.md).
from mmengine.config import read_base

with read_base():
    from .digits_linear import *

train_pipeline = test_pipeline
train_dataloader.dataset.pipeline = train_pipeline
