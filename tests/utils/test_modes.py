"""A module in eval mode for a while, each submodule's own mode put back."""

import pytest
import torch.nn as nn

from lgp.utils import eval_mode


def test_a_mix_of_modes_comes_back_exactly_even_after_an_exception() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.BatchNorm1d(2), nn.Dropout()))
    model.train()
    model[1][0].eval()  # e.g. a frozen stage
    modes = [m.training for m in model.modules()]
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == modes
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError('stop')
    assert [m.training for m in model.modules()] == modes
    model.train(True)  # what the plain restore does: the frozen stage would be back in training mode
    assert model[1][0].training
