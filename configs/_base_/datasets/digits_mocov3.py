# scikit-learn's handwritten digits (32x32, see digits_mae.py) with the views of imagenet_mocov3.py at 32 px.
from mmengine.config import read_base
from mmpretrain.datasets import CustomDataset

with read_base():
    from .imagenet_mocov3 import *

data_root = 'data/digits'
for view in train_pipeline[1].transforms:
    view[0].scale = 32  # RandomResizedCrop
del view
train_dataloader.update(batch_size=32, num_workers=2, pin_memory=False)
# replaced whole (update() would merge it with ImageNet's split='train')
train_dataloader.dataset = dict(
    type=CustomDataset, data_root=data_root, ann_file='meta/train.txt', data_prefix='', pipeline=train_pipeline
)
