# CPU twin of imagenet_linear.py: scikit-learn's digits (tools/dataset_converters/digits_to_imagenet.py: 32x32 RGB,
# meta/{train,val}.txt) at 32 px: RandomResizedCrop 32 + flip; test Resize 32 + CenterCrop 32 (the images' own size);
# 64 images per batch, 2 workers.
from mmengine.config import read_base
from mmpretrain.datasets import CustomDataset

with read_base():
    from .imagenet_linear import *

data_root = 'data/digits'
num_classes = 10
data_preprocessor.num_classes = num_classes
train_pipeline[1].scale = 32  # RandomResizedCrop
test_pipeline[1].scale = 32  # ResizeEdge
test_pipeline[2].crop_size = 32  # CenterCrop
for loader, split, pipeline in ((train_dataloader, 'train', train_pipeline), (val_dataloader, 'val', test_pipeline)):
    loader.update(batch_size=64, num_workers=2, persistent_workers=False, pin_memory=False)
    loader.dataset = dict(
        type=CustomDataset, data_root=data_root, ann_file=f'meta/{split}.txt', data_prefix='', pipeline=pipeline
    )
del loader, split, pipeline
test_dataloader = val_dataloader
