# The runtime of the study's runs (tools/study.py, tools/demo.py): the CPU runtime keeping the last checkpoint only.
from mmengine.config import read_base

with read_base():
    from ..._base_.cpu_runtime_last import *

default_hooks.logger.interval = 11
