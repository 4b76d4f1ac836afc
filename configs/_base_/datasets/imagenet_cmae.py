# ImageNet-1k with CMAE's pixel-shifting views (Huang et al., 2022): one master crop (RandomResizedCrop 256, 20-100 %
# of the area, bicubic; horizontal flip), then the online view is its top-left 224 crop, without colour augmentation,
# and the target view a 224 crop shifted by 0-31 px on each axis, with colour jitter (0.4, 0.4, 0.4, 0.1) p 0.8,
# grayscale p 0.2 and Gaussian blur (sigma 0.1-2) p 0.5. 512 images (1024 views) per GPU: 8 GPUs make the recipe's
# batch of 4096. The grayscale is lgp's LGPRandomGrayscale: mmcv's RandomGrayscale, faster, the same output.
from mmcv.transforms import RandomApply, RandomFlip
from mmengine.config import read_base
from mmpretrain.datasets import ColorJitter, GaussianBlur, PackInputs, RandomResizedCrop

from lgp.datasets.transforms import LGPLoadImageFromFile, LGPRandomGrayscale, PixelShiftViews

with read_base():
    from .imagenet_mae import *

train_pipeline = [
    dict(type=LGPLoadImageFromFile),
    dict(type=RandomResizedCrop, scale=256, crop_ratio_range=(0.2, 1.0), backend='pillow', interpolation='bicubic'),
    dict(type=RandomFlip, prob=0.5),
    dict(
        type=PixelShiftViews,
        size=224,
        max_shift=31,  # the master crop must be at least size + max_shift + 1 = 256
        target_transforms=[
            dict(
                type=RandomApply,
                transforms=[dict(type=ColorJitter, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)],
                prob=0.8,
            ),
            dict(type=LGPRandomGrayscale, prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
            dict(type=GaussianBlur, magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
        ],
    ),
    dict(type=PackInputs),
]

train_dataloader.update(dataset=dict(train_dataloader.dataset, pipeline=train_pipeline))
