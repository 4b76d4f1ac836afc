# ImageNet-1k for the MTL combination: per image, one MAE view (crop + flip) for L_MIM and MoCo v3's two views for
# L_CL, in that order. 256 images (768 views) per GPU (ViT-B in bf16: 45 GiB peak on an 80 GB H100; 512 would
# not fit), so 8 GPUs make a batch of 2048 and auto_scale_lr halves the lr.
from mmengine.config import read_base
from mmpretrain.datasets import MultiView, PackInputs

from lgp.datasets.transforms import LGPLoadImageFromFile

with read_base():
    from .imagenet_mae import train_pipeline as mae_pipeline
    from .imagenet_mocov3 import *

train_pipeline = [
    dict(type=LGPLoadImageFromFile),
    dict(type=MultiView, num_views=[1, 1, 1], transforms=[mae_pipeline[1:-1], view_pipeline_1, view_pipeline_2]),
    dict(type=PackInputs),
]

train_dataloader.batch_size = 256
train_dataloader.dataset.pipeline = train_pipeline
