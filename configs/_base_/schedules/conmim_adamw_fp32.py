# conmim_adamw.py in float32 with the plain OptimWrapper, for CPU runs (tools/train.py --amp adds bf16 autocast).
from mmengine.config import read_base
from mmengine.optim import OptimWrapper

with read_base():
    from .conmim_adamw import *

optim_wrapper.type = OptimWrapper
optim_wrapper.pop('dtype')
