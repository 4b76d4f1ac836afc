"""Nano checkpoints of the pre-training algorithms with a momentum (target, slow) encoder, for the tests that transfer
them (evaluation protocols, segmentation, grafting): ``from nano_checkpoints import save_nano`` works from any test
directory (pytest puts tests/ on sys.path)."""

from pathlib import Path

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

REPO_ROOT = Path(__file__).resolve().parents[1]


def save_nano(model_config: str, path: Path) -> Path:
    """Save the model of ``configs/_base_/models/<model_config>`` (e.g. ``cmae_vit_nano.py``) at ``path``, initialised
    with seed 0, as training writes it: ``backbone.`` (the online encoder), its other parts and ``momentum_encoder.``
    keys. The momentum encoder differs from the online one (its cls_token is shifted), so that a test can tell which
    was loaded."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(REPO_ROOT / 'configs' / '_base_' / 'models' / model_config).model)
    model.init_weights()
    state_dict = model.state_dict()
    state_dict['momentum_encoder.module.0.cls_token'] = state_dict['backbone.cls_token'] + 1.0
    torch.save({'state_dict': state_dict}, path)
    return path
