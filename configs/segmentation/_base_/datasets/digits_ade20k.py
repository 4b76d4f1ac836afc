# The digits segmentation set written by tools/dataset_converters/digits_to_ade20k.py (64x64 canvases, ADE20K's
# layout and label convention, 10 classes) with ade20k_512x512.py's pipeline scaled by 1/8: RandomResize to
# (256, 64) x [0.5, 2.0], RandomCrop 64, flip, photometric distortion; test resize to (256, 64), i.e. unchanged.
# For CPU runs and tests.
from mmengine.config import read_base

from lgp.datasets import DigitsADE20KDataset

with read_base():
    from .ade20k_512x512 import *

data_root = 'data/digits_ade/ADEChallengeData2016'
crop_size = (64, 64)
train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations),
    dict(type=RandomResize, scale=(256, 64), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type=RandomCrop, crop_size=crop_size, cat_max_ratio=0.75),
    dict(type=RandomFlip, prob=0.5),
    dict(type=PhotoMetricDistortion),
    dict(type=PackSegInputs),
]
# The two loaders by name, not class: mmseg's inference_model and MMSegInferencer find them by comparing the type with
# the strings 'LoadImageFromFile' / 'LoadAnnotations' (to load arrays and to skip the annotations); a class never
# matches, and inference on an image without annotations then fails.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type=Resize, scale=(256, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type=PackSegInputs),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type=InfiniteSampler, shuffle=True),
    dataset=dict(
        type=DigitsADE20KDataset,
        data_root=data_root,
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        type=DigitsADE20KDataset,
        data_root=data_root,
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
