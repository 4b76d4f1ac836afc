# ImageNet-1k for fine-tuning (MAE's recipe, as the original release's main_finetune_mae.py): RandomResizedCrop 224
# bicubic + flip, RandAugment rand-m9-mstd0.5-inc1 (2 ops, magnitude 9 of 10, std 0.5), RandomErasing p 0.25 (per-pixel
# random values); test Resize 256 bicubic + CenterCrop 224. Mixup / CutMix are batch augments of the model
# (model.train_cfg). 128 images per GPU (8 GPUs: batch 1024).
from mmcv.transforms import LoadImageFromFile, RandomFlip
from mmengine.config import read_base
from mmpretrain.datasets import CenterCrop, PackInputs, RandAugment, RandomErasing, RandomResizedCrop, ResizeEdge

with read_base():
    from .imagenet_linear import *

bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=RandomResizedCrop, scale=224, backend='pillow', interpolation='bicubic'),
    dict(type=RandomFlip, prob=0.5, direction='horizontal'),
    dict(
        type=RandAugment,
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic'),
    ),
    dict(
        type=RandomErasing,
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std,
    ),
    dict(type=PackInputs),
]
test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=ResizeEdge, scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type=CenterCrop, crop_size=224),
    dict(type=PackInputs),
]
train_dataloader.dataset.pipeline = train_pipeline
val_dataloader.dataset.pipeline = test_pipeline
test_dataloader = val_dataloader
