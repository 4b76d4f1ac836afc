# ImageNet-1k with MAE's augmentation: RandomResizedCrop 224 (20-100 % of the area, bicubic) and horizontal flip.
# 512 images per GPU: 8 GPUs make the recipe's batch of 4096. Layout: data/imagenet/{train,val}/<wnid>/*.JPEG
# (mmpretrain's ImageNet, split='train').
from mmcv.transforms import RandomFlip
from mmengine.dataset import DefaultSampler, default_collate
from mmpretrain.datasets import ImageNet, PackInputs, RandomResizedCrop
from mmpretrain.models import SelfSupDataPreprocessor

from lgp.datasets.transforms import LGPLoadImageFromFile

data_root = 'data/imagenet'

# ImageNet statistics on the 0-255 scale.
data_preprocessor = dict(
    type=SelfSupDataPreprocessor,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type=LGPLoadImageFromFile),
    dict(type=RandomResizedCrop, scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow', interpolation='bicubic'),
    dict(type=RandomFlip, prob=0.5),
    dict(type=PackInputs),
]

train_dataloader = dict(
    batch_size=512,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=ImageNet, data_root=data_root, split='train', pipeline=train_pipeline),
)
