"""Checkpoint interop: read official MAE / MoCo v3 / Layer Grafted / mmpretrain / lgp files, export to timm."""

from .layouts import LAYOUTS, detect_layout, extract_backbone, lgp_to_timm, timm_to_lgp, unwrap
from .loading import (
    CheckpointMismatchError,
    check_state_dict,
    load_backbone_checkpoint,
    load_model_checkpoint,
    read_backbone,
    safe_load,
)

__all__ = [
    'LAYOUTS',
    'CheckpointMismatchError',
    'check_state_dict',
    'detect_layout',
    'extract_backbone',
    'lgp_to_timm',
    'load_backbone_checkpoint',
    'load_model_checkpoint',
    'read_backbone',
    'safe_load',
    'timm_to_lgp',
    'unwrap',
]
