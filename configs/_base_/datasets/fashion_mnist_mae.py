# digits_mae.py on Fashion-MNIST, as written by tools/dataset_converters/fashion_mnist_to_imagenet.py (60,000 train
# images padded to 32x32 RGB, an ImageNet-style folder): the same augmentation at the same 32 px, another data root.
from mmengine.config import read_base

with read_base():
    from .digits_mae import *

data_root = 'data/fashion-mnist'
train_dataloader.dataset.data_root = data_root
