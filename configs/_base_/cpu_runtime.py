# default_runtime.py for the CPU twins: a log line every 10 iterations and a fixed seed.
from mmengine.config import read_base

with read_base():
    from .default_runtime import *

default_hooks.logger.interval = 10
randomness = dict(seed=0, diff_rank_seed=True)
