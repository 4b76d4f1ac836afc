# cpu_runtime.py keeping the last checkpoint only (save_last), for the evaluation twins and the demo.
from mmengine.config import read_base

with read_base():
    from .cpu_runtime import *

default_hooks.checkpoint.update(interval=-1, max_keep_ckpts=1)
