# scikit-learn's handwritten digits (32x32, see digits_mae.py) with the views of imagenet_mtl.py at 32 px: the MAE
# view of digits_mae.py and the two MoCo v3 views of digits_mocov3.py.
from mmengine.config import read_base
from mmpretrain.datasets import MultiView, PackInputs

from lgp.datasets.transforms import LGPLoadImageFromFile

with read_base():
    from .digits_mae import train_pipeline as mae_pipeline
    from .digits_mocov3 import *

train_pipeline = [
    dict(type=LGPLoadImageFromFile),
    dict(type=MultiView, num_views=[1, 1, 1], transforms=[mae_pipeline[1:-1], *train_pipeline[1].transforms]),
    dict(type=PackInputs),
]
train_dataloader.dataset.pipeline = train_pipeline
