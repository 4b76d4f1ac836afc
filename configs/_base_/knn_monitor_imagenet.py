# A kNN monitor for the ImageNet pre-training configs (off by default): every 10 epochs, before training and after the
# last epoch, the weighted kNN top-1 (k = 20, T = 0.07; Wu et al. 2018, DINO's eval_knn) of the online encoder's CLS
# token, 10,000 val images voted by 10,000 train images, each set evenly spaced over its list (about 10 a class from a
# class-sorted list), at the linear probe's test transform (Resize 256, CenterCrop 224); logged as knn/top1
# (vis_data/scalars.json, TensorBoard when configured). A monitor of the trend, below the full-train kNN of DINO. Rank
# 0 alone encodes (about 20,000 forward passes: a few per cent of a ViT-B epoch on 8 GPUs). Its data follow
# train_dataloader.dataset.data_root (meta/{train,val}.txt when present, else the train/ and val/ folders).
# Switch it on with one line in a config's read_base block, after the other imports:
#     from ._base_.knn_monitor_imagenet import *
# (a config that sets custom_hooks itself appends to the list: custom_hooks.append(...)).
from mmengine.config import read_base
from mmpretrain.datasets import ImageNet

from lgp.engine import KNNMonitorHook

with read_base():
    from ..benchmarks._base_.datasets.imagenet_linear import test_pipeline as knn_pipeline

custom_hooks = [
    dict(
        type=KNNMonitorHook,
        train_dataset=dict(type=ImageNet, split='train', pipeline=knn_pipeline),
        val_dataset=dict(type=ImageNet, split='val', pipeline=knn_pipeline),
        max_train_images=10000,
        max_val_images=10000,
        interval=10,
        batch_size=256,
        num_workers=8,
    )
]
del knn_pipeline
