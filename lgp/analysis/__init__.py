"""Analyses of trained models: the MIM / CL gradient conflict of the paper's Figure 1 and the mean attention distance
per block and head."""

from .attention_distance import (
    attention_distance_rows,
    attention_distances,
    attention_maps,
    attention_probabilities,
    mean_attention_distance,
    pixel_distance_matrix,
    summarise_attention_distances,
    write_attention_distance_report,
)
from .gradient_conflict import (
    block_gradient_cosines,
    depth_trend,
    measure_gradient_conflict,
    sample_gradient_cosines,
    summarise_gradient_conflict,
    write_gradient_conflict_report,
)

__all__ = [
    'attention_distance_rows',
    'attention_distances',
    'attention_maps',
    'attention_probabilities',
    'block_gradient_cosines',
    'mean_attention_distance',
    'depth_trend',
    'measure_gradient_conflict',
    'pixel_distance_matrix',
    'sample_gradient_cosines',
    'summarise_attention_distances',
    'summarise_gradient_conflict',
    'write_attention_distance_report',
    'write_gradient_conflict_report',
]
