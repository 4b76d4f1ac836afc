"""Optimiser wrapper constructors: the layer-wise learning rates of Layer Grafted Pre-training and its transfer."""

from .grafted_constructor import GraftedOptimWrapperConstructor
from .lr_schemes import WEIGHT_DECAY_RULES, block_group_multipliers, layer_wise_block_groups, parse_lr_layer_wise

__all__ = [
    'WEIGHT_DECAY_RULES',
    'GraftedOptimWrapperConstructor',
    'block_group_multipliers',
    'layer_wise_block_groups',
    'parse_lr_layer_wise',
]
