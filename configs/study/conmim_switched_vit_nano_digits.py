# Study row, ConMIM ablation: the two views' perturbations switched (the strong one on the corrupted view, the basic
# one on the full view); nothing else changes.
from mmengine.config import read_base

with read_base():
    from .conmim_vit_nano_digits import *

train_pipeline[3].transforms = [strong_view, basic_view]  # (MultiView: [corrupted, full])
train_dataloader.dataset.pipeline = train_pipeline
