"""Shared fixtures: the digits data set and a nano MAE checkpoint, written once per session, and a runner for the
command-line tools."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import lgp  # noqa: F401  (first: lgp's compatibility fixes, before any test module imports mmcv, mmpretrain or mmseg)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def digits_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's digits as a 32x32 ImageNet-style folder with ``meta/{train,val}.txt`` (seed 0)."""
    from lgp.datasets import write_digits_imagenet

    root = tmp_path_factory.mktemp('digits')
    write_digits_imagenet(root)
    return root


@pytest.fixture(scope='session')
def mae_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nano backbone saved as an lgp checkpoint: the step-1 (MAE) weights of the grafted CPU twins."""
    import torch

    from lgp.models import LGPViT

    torch.manual_seed(0)
    backbone = LGPViT('nano', img_size=32)
    backbone.init_weights()
    path = tmp_path_factory.mktemp('mae') / 'mae.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in backbone.state_dict().items()}}, path)
    return path


def _run(args: list[str], env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a tool from the repository root: a ``.py`` file with this interpreter, anything else as is.

    With ``check``, a non-zero exit fails the test and shows the tail of the tool's output.
    """
    command = [sys.executable, *args] if args[0].endswith('.py') else list(args)
    full_env = {**os.environ, 'PYTHON': sys.executable, **(env or {})}
    result = subprocess.run(command, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        output = f'{result.stdout[-3000:]}\n{result.stderr[-6000:]}'
        pytest.fail(f'{" ".join(args)} exited with {result.returncode}:\n{output}')
    return result


@pytest.fixture(scope='session')
def run_tool() -> Callable[..., subprocess.CompletedProcess]:
    """``run_tool(args, env=None, check=True)``: run a tool as a subprocess of this interpreter (see ``_run``)."""
    return _run
