"""The MTL baseline (lgp.models.algorithms.mtl): L = L_MIM + lambda L_CL on one backbone."""

import torch
from algorithm_helpers import model_cfg, train_steps, views

from lgp.models.algorithms import MTLMAEMoCoV3


def test_mtl_combination_trains_both_losses():
    torch.manual_seed(0)
    model = MTLMAEMoCoV3(**model_cfg('mtl_vit_nano.py', cl_weight=0.5))
    model.init_weights()
    log = model.loss([255 * v for v in views(3)], None)
    assert set(log) == {'loss_mim', 'loss_cl'} and all(torch.isfinite(v) for v in log.values())
    losses = train_steps(model, views(3), steps=12)
    assert losses[-1] < losses[0]


def test_the_weighted_sum_is_the_two_losses_of_the_same_step():
    """loss_cl is lambda x the contrastive loss of views 2 and 3, loss_mim the MAE loss of view 1."""
    torch.manual_seed(0)
    model = MTLMAEMoCoV3(**model_cfg('mtl_vit_nano.py', cl_weight=0.5))
    model.init_weights()
    inputs = [255 * v for v in views(3)]
    torch.manual_seed(1)
    log = model.loss(inputs, None)
    torch.manual_seed(1)
    mim = model.mim_loss(inputs[0])
    cl = model.contrastive_loss(inputs[1], inputs[2], update_momentum=False)
    torch.testing.assert_close(log['loss_mim'], mim)
    torch.testing.assert_close(log['loss_cl'], 0.5 * cl)
