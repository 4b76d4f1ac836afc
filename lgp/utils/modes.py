"""A module in eval mode for a while, every submodule's own mode put back after."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch.nn as nn


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module.eval()`` inside; on exit each submodule gets back its own ``training`` flag, so a mix of modes (frozen
    stages in eval, a momentum encoder in eval) is restored exactly, which ``module.train(was_training)`` would not."""
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes.items():
            m.training = training
