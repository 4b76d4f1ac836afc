# scikit-learn's handwritten digits as written by tools/dataset_converters/digits_to_imagenet.py (32x32 RGB),
# with MAE's augmentation: random resized crop (20-100 % of the area) and horizontal flip.
from mmcv.transforms import LoadImageFromFile, RandomFlip
from mmengine.dataset import DefaultSampler, default_collate
from mmpretrain.datasets import CustomDataset, PackInputs, RandomResizedCrop
from mmpretrain.models import SelfSupDataPreprocessor

data_root = 'data/digits'

# ImageNet statistics on the 0-255 scale, the normalisation the transferred backbones expect.
data_preprocessor = dict(
    type=SelfSupDataPreprocessor,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=RandomResizedCrop, scale=32, crop_ratio_range=(0.2, 1.0), backend='pillow', interpolation='bicubic'),
    dict(type=RandomFlip, prob=0.5),
    dict(type=PackInputs),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    collate_fn=dict(type=default_collate),
    dataset=dict(
        type=CustomDataset,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='',
        pipeline=train_pipeline,
    ),
)
