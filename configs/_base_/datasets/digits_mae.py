# scikit-learn's handwritten digits, as written by tools/dataset_converters/digits_to_imagenet.py (32x32 RGB, an
# ImageNet-style folder), with MAE's augmentation at 32 px; 64 images per batch. For CPU runs and tests.
from mmengine.config import read_base
from mmpretrain.datasets import CustomDataset

with read_base():
    from .imagenet_mae import *

data_root = 'data/digits'
train_pipeline[1].scale = 32  # (RandomResizedCrop)
train_dataloader.update(batch_size=64, num_workers=2, pin_memory=False)
# replaced whole (update() would merge it with ImageNet's split='train')
train_dataloader.dataset = dict(
    type=CustomDataset, data_root=data_root, ann_file='meta/train.txt', data_prefix='', pipeline=train_pipeline
)
