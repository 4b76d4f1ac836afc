"""tools/analysis_tools/gradient_conflict.py: the table, summary and plot of C_MIM,CL per block for an MTL checkpoint,
and a clear refusal for a model without both losses."""

import csv
import json
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/mtl_vit-nano_digits.py'


def test_tool_writes_table_and_plot(digits_root, tmp_path, run_tool):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(REPO / CONFIG).model)
    model.init_weights()
    checkpoint = tmp_path / 'mtl.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    out_dir = tmp_path / 'conflict'
    result = run_tool(
        [
            'tools/analysis_tools/gradient_conflict.py',
            CONFIG,
            str(checkpoint),
            '--num-batches',
            '3',
            '--batch-size',
            '4',
            '--out-dir',
            str(out_dir),
            '--cfg-options',
            f'train_dataloader.dataset.data_root={digits_root}',
            'train_dataloader.num_workers=0',
        ]
    )
    with open(out_dir / 'gradient_conflict.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 6 and {int(r['block']) for r in rows} == set(range(6))
    assert all(-1.0 <= float(r['cosine']) <= 1.0 for r in rows)
    report = json.loads((out_dir / 'gradient_conflict.json').read_text())
    assert [s['block'] for s in report['summary']] == list(range(6))
    for s in report['summary']:  # the summary is that of the table's rows
        values = [float(r['cosine']) for r in rows if int(r['block']) == s['block']]
        assert abs(s['mean'] - sum(values) / 3) < 1e-6 and s['min'] == min(values) and s['max'] == max(values)
    assert (out_dir / 'gradient_conflict.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'negative' in result.stdout and 'gradient_conflict.png' in result.stdout


def test_tool_refuses_a_model_without_both_losses(tmp_path, run_tool):
    result = run_tool(
        ['tools/analysis_tools/gradient_conflict.py', 'configs/mocov3_vit-nano_digits.py', str(tmp_path / 'none.pth')],
        check=False,
    )
    assert result.returncode != 0 and 'needs both losses on one encoder' in result.stderr
