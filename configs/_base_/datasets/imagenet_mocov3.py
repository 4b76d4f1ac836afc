# ImageNet-1k with MoCo v3's two asymmetric views (Chen et al., 2021): RandomResizedCrop 224 (8-100 %), colour
# jitter (0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale p 0.2, flip; Gaussian blur (sigma 0.1-2) p 1.0 on view 1 and
# p 0.1 on view 2; solarize p 0.2 on view 2 only. 512 images (1024 views) per GPU: 8 GPUs make the recipe's batch
# of 4096 (ViT-B in bf16: 64 GiB peak on an 80 GB H100). The grayscale is lgp's LGPRandomGrayscale: mmcv's
# RandomGrayscale computed 5x faster with the same output, bit for bit (benchmarks/README.md, data_pipeline.py).
from mmcv.transforms import RandomApply, RandomFlip
from mmengine.config import read_base
from mmpretrain.datasets import ColorJitter, GaussianBlur, MultiView, PackInputs, RandomResizedCrop, Solarize

from lgp.datasets.transforms import LGPLoadImageFromFile, LGPRandomGrayscale

with read_base():
    from .imagenet_mae import *

view_pipeline_1 = [
    dict(type=RandomResizedCrop, scale=224, crop_ratio_range=(0.08, 1.0), backend='pillow'),
    dict(
        type=RandomApply,
        transforms=[dict(type=ColorJitter, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)],
        prob=0.8,
    ),
    dict(type=LGPRandomGrayscale, prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type=GaussianBlur, magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.0),
    dict(type=Solarize, thr=128, prob=0.0),
    dict(type=RandomFlip, prob=0.5),
]
# view 2: the same but blur p 0.1 and solarize p 0.2
view_pipeline_2 = [
    *view_pipeline_1[:3],
    dict(view_pipeline_1[3], prob=0.1),
    dict(view_pipeline_1[4], prob=0.2),
    view_pipeline_1[5],
]

train_pipeline = [
    dict(type=LGPLoadImageFromFile),
    dict(type=MultiView, num_views=[1, 1], transforms=[view_pipeline_1, view_pipeline_2]),
    dict(type=PackInputs),
]

train_dataloader.update(batch_size=512, dataset=dict(train_dataloader.dataset, pipeline=train_pipeline))
