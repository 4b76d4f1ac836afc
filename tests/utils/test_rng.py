"""Random generators put back as they were."""

import random

import numpy as np
import torch

from lgp.utils import preserved_rng_states


def _draws() -> tuple:
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_draws_after_the_context_are_those_without_it() -> None:
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = _draws()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with preserved_rng_states():
        _draws()
        random.seed(7), np.random.seed(7), torch.manual_seed(7)
    assert _draws() == expected


def test_states_come_back_after_an_exception() -> None:
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    try:
        with preserved_rng_states():
            torch.rand(5)
            raise RuntimeError('stop')
    except RuntimeError:
        pass
    assert torch.equal(torch.rand(2), expected)
