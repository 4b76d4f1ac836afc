# ImageNet-1k with ConMIM's inputs (Yi et al., ICLR 2023; official datasets.py): per image ONE shared horizontal flip
# (p 0.5) and RandomResizedCrop 224 (8-100 % of the area, bicubic), then two views of that same crop, in the order
# [corrupted, full]: the corrupted (query) view gets no further augmentation ("basic"; normalised by the data
# preprocessor), the full (key) view the "strong" perturbations: colour jitter (0.4, 0.4, 0.2, 0.1) p 0.8,
# grayscale p 0.2, Gaussian blur (sigma 0.1-2) p 0.1, solarize p 0.2. Plus BEiT's block-wise mask over the 14 x 14
# patch grid: exactly 75 masked patches, blocks of at least 16 (results['mask'], packed by PackInputs as each data
# sample's `mask`, (14, 14) int64). The mask comes from lgp's BlockMaskGenerator, not mmpretrain's BEiTMaskGenerator,
# whose blocks never reach the grid's last row and column (see lgp/datasets/transforms/block_mask.py).
# 256 images (512 views) per GPU: 8 GPUs make the recipe's batch of 2048 (the official ViT-L command: 32 GPUs x 64).
# The views are config lists (basic_view, strong_view): a derived config swaps which view is perturbed with
# train_pipeline[3].transforms = [strong_view, basic_view], then sets train_pipeline in train_dataloader.dataset
# again (read_base gives a derived config copies: its train_pipeline is not the loader's).
from mmcv.transforms import RandomFlip
from mmengine.config import read_base
from mmpretrain.datasets import MultiView, PackInputs, RandomResizedCrop

from lgp.datasets.transforms import BlockMaskGenerator, LGPLoadImageFromFile

with read_base():
    from .imagenet_mae import *
    from .imagenet_mocov3 import view_pipeline_2

# the corrupted view: the shared crop as is
basic_view = []
# the full view: the shared crop perturbed (the official patch_transform_hard): MoCo v3's second view without its
# crop and flip, the same perturbations
strong_view = view_pipeline_2[1:5]
del view_pipeline_2

# BEiT's block-wise masking on the 14 x 14 grid of 16-px patches, exactly 75 masked per image
mask_generator = dict(
    type=BlockMaskGenerator, input_size=14, num_masking_patches=75, max_num_patches=None, min_num_patches=16
)

train_pipeline = [
    dict(type=LGPLoadImageFromFile),
    dict(type=RandomFlip, prob=0.5),
    dict(type=RandomResizedCrop, scale=224, crop_ratio_range=(0.08, 1.0), backend='pillow', interpolation='bicubic'),
    dict(type=MultiView, num_views=[1, 1], transforms=[basic_view, strong_view]),
    mask_generator,
    dict(type=PackInputs),  # results['mask'] -> data_sample.mask (a default key of PackInputs)
]

train_dataloader.update(batch_size=256, dataset=dict(train_dataloader.dataset, pipeline=train_pipeline))
