"""Optimiser wrapper constructors: the layer-wise learning rates of Layer Grafted Pre-training and its transfer."""

from .grafted_constructor import GraftedOptimWrapperConstructor, block_group_multipliers, parse_lr_layer_wise

__all__ = ['GraftedOptimWrapperConstructor', 'block_group_multipliers', 'parse_lr_layer_wise']
