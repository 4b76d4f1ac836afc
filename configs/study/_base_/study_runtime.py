# The runtime of the study's runs (tools/study.py, tools/demo.py): the CPU runtime keeping the last checkpoint only,
# and a kNN monitor: the weighted kNN top-1 (k = 20, T = 0.07) of the online encoder's CLS token at the linear probe's
# test transform, val images voted by train images (all of the digits; evenly spaced subsets of Fashion-MNIST's),
# before training, every 5 epochs and after the last, as knn/top1 in vis_data/scalars.json. About 0.7 s an evaluation
# on 2 CPU cores, against 1.7 s an MAE and 4.4 s a MoCo v3 epoch. Its data follow train_dataloader.dataset.data_root.
# A study config that sets custom_hooks of its own appends to this list.
from mmengine.config import read_base
from mmpretrain.datasets import CustomDataset

from lgp.engine import KNNMonitorHook

with read_base():
    from ..._base_.cpu_runtime_last import *
    from ...benchmarks._base_.datasets.digits_linear import test_pipeline as knn_pipeline

default_hooks.logger.interval = 11
custom_hooks = [
    dict(
        type=KNNMonitorHook,
        train_dataset=dict(type=CustomDataset, ann_file='meta/train.txt', data_prefix='', pipeline=knn_pipeline),
        val_dataset=dict(type=CustomDataset, ann_file='meta/val.txt', data_prefix='', pipeline=knn_pipeline),
        max_train_images=1500,
        max_val_images=1000,
        interval=5,
    )
]
del knn_pipeline
