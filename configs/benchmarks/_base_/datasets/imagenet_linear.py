# ImageNet-1k for linear probing (MoCo v3 / the original release's lincls): train RandomResizedCrop 224 + flip, test
# Resize 256 (short edge) + CenterCrop 224; 128 images per GPU (8 GPUs: batch 1024); top-1 / top-5 accuracy.
# Layout: data/imagenet/{train,val}/<wnid>/*.JPEG (mmpretrain's ImageNet). A split file of the original format
# (`train/<wnid>/<file>.JPEG <label>`, lgp.datasets.splits) is read with
# dict(type=ImageNet, data_root=data_root, ann_file='meta/train_10percent.txt', data_prefix='').
from mmcv.transforms import LoadImageFromFile, RandomFlip
from mmengine.dataset import DefaultSampler, default_collate
from mmpretrain.datasets import CenterCrop, ImageNet, PackInputs, RandomResizedCrop, ResizeEdge
from mmpretrain.evaluation import Accuracy
from mmpretrain.models import ClsDataPreprocessor

data_root = 'data/imagenet'
num_classes = 1000

# ImageNet statistics on the 0-255 scale.
data_preprocessor = dict(
    type=ClsDataPreprocessor,
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=RandomResizedCrop, scale=224, backend='pillow'),
    dict(type=RandomFlip, prob=0.5, direction='horizontal'),
    dict(type=PackInputs),
]
test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=ResizeEdge, scale=256, edge='short', backend='pillow'),
    dict(type=CenterCrop, crop_size=224),
    dict(type=PackInputs),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=ImageNet, data_root=data_root, split='train', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type=DefaultSampler, shuffle=False),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=ImageNet, data_root=data_root, split='val', pipeline=test_pipeline),
)
val_evaluator = dict(type=Accuracy, topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
