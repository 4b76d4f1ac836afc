# ImageNet-1k with ConMIM's inputs (imagenet_conmim.py), masked as the official ViT-L command does
# (--mask_type random_mps32 --mask_ratio 0.75): random masking in 32-px units instead of block-wise masking. The 7 x 7
# grid of units has int(ceil(49 * 0.75)) = 37 masked, each unit 2 x 2 patches of 16 px, so 148 of the 196 patches
# (mmpretrain's SimMIMMaskGenerator is the official MaskGenerator: same rounding, mask on the 14 x 14 patch grid).
from mmengine.config import read_base
from mmpretrain.datasets import SimMIMMaskGenerator

with read_base():
    from .imagenet_conmim import *

mask_generator = dict(
    type=SimMIMMaskGenerator, input_size=224, mask_patch_size=32, model_patch_size=16, mask_ratio=0.75
)
train_pipeline[4] = mask_generator  # (BlockMaskGenerator)
# a derived config's train_pipeline is a copy, not the data loader's: set it there again
train_dataloader.update(dataset=dict(train_dataloader.dataset, pipeline=train_pipeline))
