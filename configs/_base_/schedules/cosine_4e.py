# cosine_300e.py at CPU-test scale: 4 epochs, 1 of warm-up.
from mmengine.config import read_base

with read_base():
    from .cosine_300e import *

train_cfg.max_epochs = 4
param_scheduler[0].end = param_scheduler[1].begin = 1
