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
train_pipeline[2].scale = (256, 64)  # RandomResize
train_pipeline[3].crop_size = crop_size  # RandomCrop
test_pipeline[1].scale = (256, 64)  # Resize
train_dataloader.update(batch_size=8, num_workers=2)
train_dataloader.dataset.update(type=DigitsADE20KDataset, data_root=data_root, pipeline=train_pipeline)
val_dataloader.num_workers = 2
val_dataloader.dataset.update(type=DigitsADE20KDataset, data_root=data_root, pipeline=test_pipeline)
test_dataloader = val_dataloader
