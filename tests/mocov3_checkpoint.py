"""A nano MoCo v3 checkpoint for the tests that read a pre-trained projector or encoder (the 10 % few-shot head, the
benchmark twins, tools/fewshot_eval.py): ``from mocov3_checkpoint import save_mocov3_nano`` works from any test
directory (pytest puts tests/, the folder of tests/conftest.py, on sys.path)."""

from pathlib import Path

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

REPO_ROOT = Path(__file__).resolve().parents[1]


def save_mocov3_nano(path: Path) -> Path:
    """Save an lgp MoCo v3 nano model (random weights; projector BN statistics and scale made non-trivial) at ``path``.

    The full model's state dict, as training writes it: ``backbone.``, ``neck.`` (the projector), ``head.`` and
    ``momentum_encoder.`` keys.
    """
    model = MODELS.build(Config.fromfile(REPO_ROOT / 'configs' / '_base_' / 'models' / 'mocov3_vit_nano.py').model)
    with torch.no_grad():
        model.neck.bn0.running_mean.uniform_(-1, 1)
        model.neck.bn0.running_var.uniform_(0.5, 2)
        model.neck.bn0.weight.uniform_(0.5, 2)
    torch.save({'state_dict': model.state_dict()}, path)
    return path
