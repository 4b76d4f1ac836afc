# CPU twin of imagenet_finetune.py: the digits at 32 px with the fine-tuning augmentation (RandAugment, RandomErasing).
from mmengine.config import read_base

with read_base():
    from .digits_linear import *
    from .imagenet_finetune import test_pipeline as finetune_test_pipeline
    from .imagenet_finetune import train_pipeline as finetune_train_pipeline

train_pipeline = finetune_train_pipeline
train_pipeline[1].scale = 32  # RandomResizedCrop
test_pipeline = finetune_test_pipeline
test_pipeline[1].scale = 32  # ResizeEdge
test_pipeline[2].crop_size = 32  # CenterCrop
train_dataloader.dataset.pipeline = train_pipeline
val_dataloader.dataset.pipeline = test_pipeline
test_dataloader = val_dataloader
