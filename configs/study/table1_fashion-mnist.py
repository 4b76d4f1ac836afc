# The study (table1_digits.py) on Fashion-MNIST: 60,000 training photographs of clothing (28 px, padded to 32), 10,000
# val; the same rows, columns and analyses. With 42 times the digits' training images, every run is scaled to a tenth
# of its epochs (MAE 2, MoCo v3 2, step 2 runs 2), i.e. about four times the digits' optimiser steps, and one seed.
# The 13-a-class, 1 % and 10 % splits are the converter's. Data first:
#   python tools/dataset_converters/fashion_mnist_to_imagenet.py data/fashion-mnist
#   python tools/study.py configs/study/table1_fashion-mnist.py
from mmengine.config import read_base

with read_base():
    from .table1_digits import *

data = dict(root='data/fashion-mnist', prepare='fashion-mnist')
seeds = 1
schedule_scale = 0.1
finetune_scale = 0.1
