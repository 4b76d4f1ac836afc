# Study row, ConMIM ablation: no slow model (the paper's "w/o asymmetric model progress rates"): the online encoder and
# projector, without gradient, make the keys; nothing else changes.
from mmengine.config import read_base

with read_base():
    from .conmim_vit_nano_digits import *

model.slow_model = False
