"""Compile the model's loss computation for training (``torch.compile``), the way that pays for lgp's models."""

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def compile_loss(model: nn.Module, mode: str | None = None) -> None:
    """``torch.compile`` ``model.loss`` in place: the forward passes, heads and losses as one graph (AOTAutograd
    compiles the backward too), left only where the momentum encoder is updated
    (:func:`lgp.models.momentum.update_momentum_encoder`).

    Not ``train_step``, as mmengine's ``compile=True`` does: torch 2.11's dynamo fails inside mmengine's ``autocast``
    helper, and the data preprocessor, the finite-loss check and the fused AdamW gain nothing from it.
    """
    if not callable(getattr(model, 'loss', None)):
        raise TypeError(f'{type(model).__name__} has no loss() to compile: CompileLossHook is for the training models.')
    model.loss = torch.compile(model.loss, mode=mode)


@HOOKS.register_module()
class CompileLossHook(Hook):
    """Before training, :func:`compile_loss` the runner's model (unwrapped from DDP): the first iterations compile, the
    later ones run faster (``benchmarks/README.md``, ``train_step.py --compile --against-eager``). Switch it on with
    ``custom_hooks.append(dict(type=CompileLossHook))``.

    Args:
        mode: ``torch.compile``'s ``mode`` (None: the default).
    """

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def before_train(self, runner) -> None:
        compile_loss(runner.model.module if is_model_wrapper(runner.model) else runner.model, self.mode)
