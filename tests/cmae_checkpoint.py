"""A nano CMAE checkpoint for the tests that transfer it (evaluation protocols, segmentation, grafting): ``from
cmae_checkpoint import save_cmae_nano`` works from any test directory (pytest puts tests/ on sys.path)."""

from pathlib import Path

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

REPO_ROOT = Path(__file__).resolve().parents[1]


def save_cmae_nano(path: Path) -> Path:
    """Save an lgp CMAE nano model at ``path``, as training writes it: ``backbone.`` (online encoder), ``neck.`` (pixel
    decoder), ``feature_decoder.``, ``projector.``, ``contrast_head.`` and ``momentum_encoder.`` keys. The target
    encoder differs from the online one (its cls_token is shifted), so that a test can tell which was loaded."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(REPO_ROOT / 'configs' / '_base_' / 'models' / 'cmae_vit_nano.py').model)
    model.init_weights()
    state_dict = model.state_dict()
    state_dict['momentum_encoder.module.0.cls_token'] = state_dict['backbone.cls_token'] + 1.0
    torch.save({'state_dict': state_dict}, path)
    return path
