"""The momentum (EMA) encoder's update, outside any compiled graph."""

import torch
import torch.nn as nn
from mmengine.model import BaseAveragedModel


@torch.compiler.disable
def update_momentum_encoder(momentum_encoder: BaseAveragedModel, online: nn.Module) -> None:
    """``momentum_encoder.update_parameters(online)`` (mmengine's EMA: theta_m <- m theta_m + (1 - m) theta), run
    eagerly when the training step is compiled: mmengine's per-tensor loop branches on its step counter (a graph
    break) and would make a graph, and a recompilation, per parameter shape."""
    momentum_encoder.update_parameters(online)
