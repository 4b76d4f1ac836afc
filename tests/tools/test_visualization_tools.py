"""tools/visualization/{mae_reconstruction,attention_maps}.py, run as their own ``__main__`` in this process, on nano
checkpoints and the digits: a PNG with a row per image (per model) and a column per image kind (per head), of the size
the figure's inches and dpi give; a clear refusal of a model without a pixel decoder."""

import runpy
import sys
from pathlib import Path

import pytest
import torch
from matplotlib.image import imread
from mmengine.config import Config
from mmpretrain.registry import MODELS
from nano_checkpoints import save_nano

REPO = Path(__file__).resolve().parents[2]
DATA_CONFIG = 'configs/benchmarks/linear_lgp-vit-nano_digits.py'
RECONSTRUCTION = 'tools/visualization/mae_reconstruction.py'
ATTENTION = 'tools/visualization/attention_maps.py'
DPI, PANEL = 100, 1.5  # the reconstruction figure's; the attention maps' panels are 1.2 in


def data_options(digits_root: Path) -> list[str]:
    return ['--cfg-options', f'val_dataloader.dataset.data_root={digits_root}', 'val_dataloader.num_workers=0']


def run_in_process(tool: str, argv: list[str], monkeypatch) -> None:
    """A tool in this process (``runpy``: its file as ``__main__``), with its command line set."""
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / tool), run_name='__main__')


def test_reconstruction_tool_on_a_cmae_checkpoint(digits_root, tmp_path, monkeypatch, capsys):
    checkpoint = save_nano('cmae_vit_nano.py', tmp_path / 'cmae.pth')
    out = tmp_path / 'figures' / 'cmae.png'
    run_in_process(
        RECONSTRUCTION,
        [
            'configs/cmae_vit-nano_digits.py',
            str(checkpoint),
            '--data-config',
            DATA_CONFIG,
            '--num-images',
            '3',
            '--seed',
            '1',
            '--out',
            str(out),
            *data_options(digits_root),
        ],
        monkeypatch,
    )
    assert f'wrote {out}' in capsys.readouterr().out
    # 3 rows, 4 columns of 1.5 in; 0.5 in of column titles, 0.4 in of caption
    assert imread(out).shape == (round((3 * PANEL + 0.9) * DPI), round(4 * PANEL * DPI), 4)


def test_reconstruction_tool_on_an_mae_checkpoint(digits_root, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(REPO / 'configs/_base_/models/mae_vit_nano.py').model)
    model.init_weights()
    checkpoint = tmp_path / 'mae.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    out = tmp_path / 'mae.png'
    argv = ['configs/mae_vit-nano_digits.py', str(checkpoint), '--data-config', DATA_CONFIG, '--num-images', '2']
    run_in_process(RECONSTRUCTION, [*argv, '--out', str(out), *data_options(digits_root)], monkeypatch)
    image = imread(out)
    assert image.shape == (round((2 * PANEL + 0.9) * DPI), round(4 * PANEL * DPI), 4)
    # inside the first panel (below the 0.5 in of titles), the original digit: white strokes on black
    first_panel = image[round(0.5 * DPI) + 10 : round((0.5 + PANEL) * DPI) - 10, 10 : round(PANEL * DPI) - 10, :3]
    assert first_panel.min() < 0.1 and first_panel.max() > 0.9


def test_reconstruction_tool_refuses_a_model_without_pixel_decoder(digits_root, tmp_path, monkeypatch):
    checkpoint = save_nano('mocov3_vit_nano.py', tmp_path / 'mocov3.pth')
    argv = ['configs/mocov3_vit-nano_digits.py', str(checkpoint), '--data-config', DATA_CONFIG, '--num-images', '1']
    with pytest.raises(TypeError, match='LGPMAE or a CMAE'):
        run_in_process(
            RECONSTRUCTION, [*argv, '--out', str(tmp_path / 'x.png'), *data_options(digits_root)], monkeypatch
        )


def test_attention_maps_tool_with_two_models_and_rollout(digits_root, mae_checkpoint, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'attention.png'
    run_in_process(
        ATTENTION,
        [
            DATA_CONFIG,
            '--model',
            'MAE',
            'configs/mae_vit-nano_digits.py',
            str(mae_checkpoint),
            '--model',
            'MoCo v3',
            'configs/mocov3_vit-nano_digits.py',
            'none',
            '--num-images',
            '2',
            '--rollout',
            '--out',
            str(out),
            *data_options(digits_root),
        ],
        monkeypatch,
    )
    assert f'wrote {out}' in capsys.readouterr().out
    # 2 models x 2 images = 4 rows; image, mean, 3 heads, rollout = 6 columns of 1.2 in; margins 0.3 in left, 0.4 in
    # top and bottom
    assert imread(out).shape == (round((4 * 1.2 + 0.8) * DPI), round((0.3 + 6 * 1.2) * DPI), 4)
