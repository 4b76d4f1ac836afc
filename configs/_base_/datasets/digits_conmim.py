# scikit-learn's handwritten digits (32x32, see digits_mae.py) with ConMIM's views and block mask of
# imagenet_conmim.py at 32 px: the nano ViT's 4-px patches make an 8 x 8 grid. 64 images (128 views) per batch. For
# CPU runs and tests.
from mmengine.config import read_base
from mmpretrain.datasets import CustomDataset

with read_base():
    from .imagenet_conmim import *

data_root = 'data/digits'
train_pipeline[2].scale = 32  # (RandomResizedCrop)
# scaled in proportion to the 8 x 8 grid: 75 / 196 of 64 patches = 24 masked, blocks of at least 16 * 64 / 196 ~ 5
mask_generator.update(input_size=8, num_masking_patches=24, min_num_patches=5)
train_pipeline[4] = mask_generator  # (BlockMaskGenerator)
train_dataloader.update(batch_size=64, num_workers=2, pin_memory=False)
# replaced whole (update() would merge it with ImageNet's split='train')
train_dataloader.dataset = dict(
    type=CustomDataset, data_root=data_root, ann_file='meta/train.txt', data_prefix='', pipeline=train_pipeline
)
