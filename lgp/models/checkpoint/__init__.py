"""Checkpoint interop: read official MAE / MoCo v3 / Layer Grafted / mmpretrain / lgp files, export to timm.

Every checkpoint layout lgp reads lives here (:mod:`.layouts`); loads are strict and all or nothing (:mod:`.loading`);
:func:`split_init_cfg` finds the pretrained load of an ``init_cfg`` in any form mmengine accepts (:mod:`.init_cfg`).
"""

from .init_cfg import is_pretrained_type, split_init_cfg
from .layouts import (
    LAYOUTS,
    MODEL_LAYOUTS,
    PROJECTOR_LAYOUTS,
    detect_layout,
    detect_model_layout,
    extract_backbone,
    extract_model,
    lgp_to_timm,
    read_projector_first_layer,
    select_prefix,
    timm_to_lgp,
    unwrap,
)
from .loading import (
    REL_POS_TABLE_KEY,
    CheckpointMismatchError,
    check_state_dict,
    fit_global_pool,
    load_backbone_checkpoint,
    load_model_checkpoint,
    read_backbone,
    read_model,
    resizable_pos_embeds,
    safe_load,
)

__all__ = [
    'LAYOUTS',
    'MODEL_LAYOUTS',
    'PROJECTOR_LAYOUTS',
    'REL_POS_TABLE_KEY',
    'CheckpointMismatchError',
    'check_state_dict',
    'detect_layout',
    'detect_model_layout',
    'extract_backbone',
    'extract_model',
    'fit_global_pool',
    'is_pretrained_type',
    'lgp_to_timm',
    'load_backbone_checkpoint',
    'load_model_checkpoint',
    'read_backbone',
    'read_model',
    'read_projector_first_layer',
    'resizable_pos_embeds',
    'safe_load',
    'select_prefix',
    'split_init_cfg',
    'timm_to_lgp',
    'unwrap',
]
