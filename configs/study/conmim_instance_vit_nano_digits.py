# Study row, ConMIM ablation: vanilla instance-level contrast instead of the patch-level dictionary (the mean of each
# image's projected patch tokens against the other images of the batch); nothing else changes.
from mmengine.config import read_base

with read_base():
    from .conmim_vit_nano_digits import *

model.contrast = 'instance'
