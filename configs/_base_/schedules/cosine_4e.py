# cosine_300e.py at CPU-test scale: 4 epochs, 1 of warm-up.
from mmengine.config import read_base

with read_base():
    from .cosine_300e import *

max_epochs = 4
warmup_epochs = 1
param_scheduler[0].end = warmup_epochs
param_scheduler[1].update(T_max=max_epochs - warmup_epochs, begin=warmup_epochs, end=max_epochs)
train_cfg.max_epochs = max_epochs
