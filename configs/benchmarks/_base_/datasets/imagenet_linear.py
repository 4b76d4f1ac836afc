# ImageNet-1k for linear probing (MoCo v3 / the original release's lincls): train RandomResizedCrop 224 + flip, test
# Resize 256 (short edge) + CenterCrop 224; 128 images per GPU (8 GPUs: batch 1024); top-1 / top-5 accuracy. The
# loaders are the pre-training one's (configs/_base_/datasets/imagenet_mae.py) with these pipelines. Layout:
# data/imagenet/{train,val}/<wnid>/*.JPEG. A split file of the original format (`train/<wnid>/<file>.JPEG <label>`,
# lgp.datasets.splits) is read with train_dataloader.dataset.update(ann_file='meta/train_10percent.txt',
# data_prefix='').
from mmcv.transforms import LoadImageFromFile, RandomFlip
from mmengine.config import read_base
from mmengine.dataset import DefaultSampler
from mmpretrain.datasets import CenterCrop, ImageNet, PackInputs, RandomResizedCrop, ResizeEdge
from mmpretrain.evaluation import Accuracy
from mmpretrain.models import ClsDataPreprocessor

with read_base():
    from ...._base_.datasets.imagenet_mae import data_preprocessor as pretrain_preprocessor
    from ...._base_.datasets.imagenet_mae import data_root
    from ...._base_.datasets.imagenet_mae import train_dataloader as pretrain_loader

num_classes = 1000
data_preprocessor = dict(pretrain_preprocessor, type=ClsDataPreprocessor, num_classes=num_classes)

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
# the folders are named by data_prefix (no `split`), so that an annotation file can replace them (see above)
train_dataloader = dict(
    pretrain_loader,
    batch_size=128,
    dataset=dict(type=ImageNet, data_root=data_root, data_prefix='train', pipeline=train_pipeline),
)
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(type=ImageNet, data_root=data_root, data_prefix='val', pipeline=test_pipeline),
)
val_evaluator = dict(type=Accuracy, topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
del pretrain_loader, pretrain_preprocessor
