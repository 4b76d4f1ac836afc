"""lgp's MoCo v3 on the nano backbone."""

import torch
from algorithm_helpers import model_cfg, train_steps, views

from lgp.models import LGPMoCoV3


def test_mocov3_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = LGPMoCoV3(**model_cfg('mocov3_vit_nano.py'))
    model.init_weights()
    losses = train_steps(model, views(2), steps=12)
    assert losses[-1] < losses[0]
