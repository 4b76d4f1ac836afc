# The grafting baselines' step 2 (paper, Table 1): cosine_300e.py over 100 epochs, 10 of warm-up.
from mmengine.config import read_base

with read_base():
    from .cosine_300e import *

train_cfg.max_epochs = 100
param_scheduler[0].end = param_scheduler[1].begin = 10
