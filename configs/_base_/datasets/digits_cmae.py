# scikit-learn's handwritten digits (32x32, see digits_mae.py) with the pixel-shifting views of imagenet_cmae.py at
# 32 px; 64 images (128 views) per batch. For CPU runs and tests.
from mmengine.config import read_base
from mmpretrain.datasets import CustomDataset

with read_base():
    from .imagenet_cmae import *

data_root = 'data/digits'
# sizes and shift scaled in proportion (224 -> 32, 1/7): master 256 -> 37, views 224 -> 32, shift 31 -> 4
train_pipeline[1].scale = 37  # (RandomResizedCrop)
train_pipeline[3].update(size=32, max_shift=4)  # (PixelShiftViews)
train_dataloader.update(batch_size=64, num_workers=2, pin_memory=False)
# replaced whole (update() would merge it with ImageNet's split='train')
train_dataloader.dataset = dict(
    type=CustomDataset, data_root=data_root, ann_file='meta/train.txt', data_prefix='', pipeline=train_pipeline
)
