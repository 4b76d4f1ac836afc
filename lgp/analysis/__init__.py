"""Analyses of trained models: the MIM / CL gradient conflict of the paper's Figure 1."""

from .gradient_conflict import block_gradient_cosines, measure, summarise, write_report

__all__ = ['block_gradient_cosines', 'measure', 'summarise', 'write_report']
