"""tools/analysis_tools/gradient_conflict.py: the per-sample table, the per-block summary, the trend with depth and the
plot of C_MIM,CL for an MTL checkpoint, and a clear refusal for a model without both losses."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/mtl_vit-nano_digits.py'


def test_tool_writes_table_summary_trend_and_plot(digits_root, tmp_path, run_tool):
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
            '2',
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
    assert sorted((int(r['sample']), int(r['block'])) for r in rows) == [(s, b) for s in range(8) for b in range(6)]
    assert all(-1.0 <= float(r['cosine']) <= 1.0 for r in rows)

    report = json.loads((out_dir / 'gradient_conflict.json').read_text())
    summary = report['summary']
    assert [s['block'] for s in summary] == list(range(6))
    for s in summary:  # the summary is that of the table's rows
        values = np.array([float(r['cosine']) for r in rows if int(r['block']) == s['block']])
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        assert s['n'] == 8 and s['negative_share'] == (values < 0).mean()
        assert s['mean'] == pytest.approx(values.mean()) and s['median'] == pytest.approx(median)
        assert (s['q1'], s['q3']) == pytest.approx((q1, q3))

    trend = report['trend']
    for key, column in (('rho_median', 'median'), ('rho_negative_share', 'negative_share')):
        values = [s[column] for s in summary]
        if len(set(values)) == 1:
            assert trend[key] is None
        else:
            assert trend[key] == pytest.approx(scipy.stats.spearmanr(range(6), values).statistic)
    signs = trend['rho_median'] is not None and trend['rho_negative_share'] is not None
    signs = signs and trend['rho_median'] < 0 < trend['rho_negative_share']
    assert 0 <= trend['support'] <= 1 and trend['grows'] == (signs and trend['support'] >= 0.95)
    assert trend['sentence'] in result.stdout
    verdict = 'grows' if trend['grows'] else 'does not grow'
    assert trend['sentence'].endswith(
        f'the conflict {verdict} with depth here (a growing conflict in {trend["support"]:.0%} of 1000 bootstrap '
        'resamples of the 8 samples, 95% needed).'
    )
    assert (out_dir / 'gradient_conflict.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'negative' in result.stdout and 'gradient_conflict.png' in result.stdout


def test_tool_refuses_a_model_without_both_losses(tmp_path, run_tool):
    result = run_tool(
        ['tools/analysis_tools/gradient_conflict.py', 'configs/mocov3_vit-nano_digits.py', str(tmp_path / 'none.pth')],
        check=False,
    )
    assert result.returncode != 0 and 'needs both losses on one encoder' in result.stderr
