"""tools/visualization/tsne.py on the digits: two nano checkpoints mapped on a split file's images, a seeded subset;
the PNG, and a CSV whose points are the library's t-SNE of the cached features, labelled as the split file says; a
clear refusal of two models with one label."""

import csv
import runpy
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import torch
from mocov3_checkpoint import save_mocov3_nano

from lgp.datasets import read_split
from lgp.visualization.tsne import tsne_embedding

REPO = Path(__file__).resolve().parents[2]
TOOL = 'tools/visualization/tsne.py'
DATA_CONFIG = 'configs/benchmarks/linear_lgp-vit-nano_digits.py'
SPLIT = 'meta/train_13perclass.txt'  # 130 images
MAX_POINTS = 100


def test_tool_maps_two_checkpoints_on_a_split(digits_root: Path, mae_checkpoint: Path, tmp_path: Path, run_tool):
    checkpoints = {'MAE': mae_checkpoint, 'MoCo v3': save_mocov3_nano(tmp_path / 'mocov3.pth')}
    models = [arg for label, path in checkpoints.items() for arg in ('--model', label, str(path))]
    out = tmp_path / 'maps' / 'tsne.png'
    options = [f'test_dataloader.dataset.data_root={digits_root}', 'test_dataloader.num_workers=0']
    run_tool(
        [TOOL, DATA_CONFIG, *models, '--split', SPLIT, '--max-points', str(MAX_POINTS), '--seed', '1']
        + ['--cache-dir', str(tmp_path / 'cache'), '--out', str(out), '--cfg-options', *options]
    )
    assert mpimg.imread(out).shape[1] == 2 * 400  # two panels of 4 inches at 100 dpi

    with out.with_suffix('.csv').open() as f:
        rows = list(csv.DictReader(f))
    by_method = {label: [r for r in rows if r['method'] == label] for label in checkpoints}
    assert [len(r) for r in by_method.values()] == [MAX_POINTS, MAX_POINTS]
    index = torch.tensor([int(r['index']) for r in by_method['MAE']])
    assert index.unique().tolist() == index.tolist() and index.max() < 130  # a sorted subset of the split's lines
    split_labels = [label for _, label in read_split(digits_root / SPLIT)]
    assert [int(r['label']) for r in by_method['MoCo v3']] == [split_labels[i] for i in index]

    cached = [torch.load(path, weights_only=True) for path in sorted((tmp_path / 'cache').glob('val_*.pt'))]
    assert len(cached) == 2 and all(c['features'].shape == (130, 48) for c in cached)
    expected = [tsne_embedding(c['features'][index], seed=1) for c in cached]
    matches = []  # which cache file each method's points come from (the files are named by key, not by method)
    for rows_of_method in by_method.values():
        points = torch.tensor([[float(r['x']), float(r['y'])] for r in rows_of_method])
        matches += [i for i, e in enumerate(expected) if torch.allclose(points, e, atol=1e-4, rtol=0)]
    assert sorted(matches) == [0, 1]


def test_tool_refuses_two_models_with_one_label(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [TOOL, DATA_CONFIG, '--model', 'A', 'a.pth', '--model', 'A', 'b.pth'])
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit):
        runpy.run_path(str(REPO / TOOL), run_name='__main__')
    assert "each --model needs its own label, got ['A', 'A']" in capsys.readouterr().err
