"""tools/analysis_tools/attention_distance.py: the table, summary and plot for a saved nano checkpoint and an untrained
model, equal to the library's measure on the same images; clear refusals of a config without images and of two models
with one label."""

import csv
import json
import runpy
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from lgp.analysis import attention_distances
from lgp.models.checkpoint import load_backbone_checkpoint

REPO = Path(__file__).resolve().parents[2]
TOOL = 'tools/analysis_tools/attention_distance.py'
DATA_CONFIG = 'configs/benchmarks/linear_lgp-vit-nano_digits.py'
MAE_CONFIG = 'configs/mae_vit-nano_digits.py'
NUM_IMAGES = 20


def expected_distances(digits_root, checkpoint) -> torch.Tensor:
    """The library's measure on the first NUM_IMAGES val images, normalised by the MAE config's preprocessor."""
    data_cfg = Config.fromfile(DATA_CONFIG)
    loader_cfg = dict(data_cfg.val_dataloader, num_workers=0, persistent_workers=False, batch_size=NUM_IMAGES)
    loader_cfg['dataset'] = dict(loader_cfg['dataset'], data_root=str(digits_root))
    batch = next(iter(Runner.build_dataloader(loader_cfg)))
    cfg = Config.fromfile(MAE_CONFIG)
    init_default_scope('mmpretrain')
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    load_backbone_checkpoint(backbone, checkpoint)
    images = MODELS.build(cfg.data_preprocessor)(batch, False)['inputs']
    return attention_distances(backbone, images)


def test_tool_writes_table_summary_and_plot(digits_root, mae_checkpoint, tmp_path, run_tool):
    out_dir = tmp_path / 'attention'
    result = run_tool(
        [
            TOOL,
            DATA_CONFIG,
            '--model',
            'MAE',
            MAE_CONFIG,
            str(mae_checkpoint),
            '--model',
            'untrained',
            MAE_CONFIG,
            'none',
            '--num-images',
            str(NUM_IMAGES),
            '--seed',
            '1',
            '--out-dir',
            str(out_dir),
            '--cfg-options',
            f'val_dataloader.dataset.data_root={digits_root}',
            'val_dataloader.num_workers=0',
            'val_dataloader.batch_size=8',  # 8 + 8 + 4 images: the last batch cut to size
        ]
    )
    with open(out_dir / 'attention_distance.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 6 * 3  # methods x blocks x heads
    table = {m: torch.zeros(6, 3) for m in ('MAE', 'untrained')}
    for r in rows:
        table[r['method']][int(r['block']), int(r['head'])] = float(r['distance'])
    torch.testing.assert_close(table['MAE'], expected_distances(digits_root, mae_checkpoint), atol=1e-4, rtol=1e-5)
    assert not torch.allclose(table['MAE'], table['untrained'])  # another initialisation (--seed 1), not the file

    report = json.loads((out_dir / 'attention_distance.json').read_text())
    assert report['num_images'] == NUM_IMAGES and report['cls_token'] == 'row and column dropped, not renormalised'
    assert [m['label'] for m in report['models']] == ['MAE', 'untrained']
    for s in report['summary']:
        torch.testing.assert_close(s['mean'], table[s['method']][s['block']].mean().item())
    assert (out_dir / 'attention_distance.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    mae_line = next(line for line in result.stdout.splitlines() if line.startswith('MAE'))
    printed = torch.tensor([float(v) for v in mae_line.split()[1:]])
    torch.testing.assert_close(printed, table['MAE'].mean(dim=1), atol=0.006, rtol=0)


def run_in_process(argv: list[str], monkeypatch) -> None:
    """The tool in this process (``runpy``), with its command line set: fast, for the refusals."""
    monkeypatch.setattr(sys, 'argv', [TOOL, *argv])
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / TOOL), run_name='__main__')


def test_tool_refuses_a_config_without_images(mae_checkpoint, monkeypatch):
    with pytest.raises(ValueError, match='has no val_dataloader or test_dataloader'):
        run_in_process([MAE_CONFIG, '--model', 'MAE', MAE_CONFIG, str(mae_checkpoint)], monkeypatch)


def test_tool_refuses_two_models_with_one_label(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run_in_process(
            [DATA_CONFIG, '--model', 'A', MAE_CONFIG, 'none', '--model', 'A', MAE_CONFIG, 'none'], monkeypatch
        )
    assert "each --model needs its own label, got ['A', 'A']" in capsys.readouterr().err
