# mae_vit-nano_digits.py on Fashion-MNIST: MAE on the nano LGPViT and 60,000 photographs of clothing, 256 images a
# batch, 10 epochs (1 of warm-up). Data: python tools/dataset_converters/fashion_mnist_to_imagenet.py data/fashion-mnist
from mmengine.config import read_base

with read_base():
    from ._base_.cpu_runtime import *
    from ._base_.datasets.fashion_mnist_mae import *
    from ._base_.models.mae_vit_nano import *
    from ._base_.schedules.cosine_4e import *
    from ._base_.schedules.mae_adamw_fp32 import *

train_dataloader.batch_size = 256
train_cfg.max_epochs = 10
