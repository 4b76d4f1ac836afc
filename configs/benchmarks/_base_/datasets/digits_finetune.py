# The digits at 32 px for fine-tuning. ImageNet's fine-tuning augmentation (imagenet_finetune.py) does not suit 8x8
# digits drawn at 32 px: a crop down to 8 % of the area, a mirror flip (digits are not mirror-symmetric), RandAugment
# at magnitude 9 and RandomErasing leave little of a digit, and the run does not learn (12 % top-1 after 10 epochs).
# Here: a random crop of 35-100 % of the area, bicubic, and nothing else; the test transform is the linear probe's.
from mmcv.transforms import LoadImageFromFile
from mmengine.config import read_base
from mmpretrain.datasets import PackInputs, RandomResizedCrop

with read_base():
    from .digits_linear import *

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=RandomResizedCrop, scale=32, crop_ratio_range=(0.35, 1.0), backend='pillow', interpolation='bicubic'),
    dict(type=PackInputs),
]
train_dataloader.dataset.pipeline = train_pipeline
