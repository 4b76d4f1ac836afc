"""tools/fewshot_eval.py end to end on the digits: the 1 % split's features cached, one fit per lambda_0, the table and
fewshot_results.json, the original's per-sample centring by default."""

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mocov3_checkpoint import save_mocov3_nano

from lgp.evaluation import sweep_lambdas

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / 'configs' / 'benchmarks' / 'linear_lgp-vit-nano_digits.py'


def test_fewshot_eval_tool_end_to_end(digits_root: Path, tmp_path: Path, run_tool) -> None:
    checkpoint = save_mocov3_nano(tmp_path / 'mocov3_nano.pth')  # a full model: the tool picks the online backbone
    command = [
        'tools/fewshot_eval.py',
        str(CONFIG),
        str(checkpoint),
        '--split',
        'meta/train_1percent.txt',
        '--lambdas',
        '2.5e-4',
        '2.5e-2',
        '--cache-dir',
        str(tmp_path / 'cache'),
        '--work-dir',
        str(tmp_path),
        '--cfg-options',
        f'test_dataloader.dataset.data_root={digits_root}',
        'test_dataloader.num_workers=0',
    ]
    result = run_tool(command)
    assert '14 training / 360 val images' in result.stdout and 'centering sample' in result.stdout
    best = re.search(r'best: lambda_0 (\S+): top-1 ([\d.]+), top-5 ([\d.]+)', result.stdout)
    assert best is not None and 0 <= float(best.group(2)) <= float(best.group(3)) <= 100
    saved = json.loads((tmp_path / 'fewshot_results.json').read_text())
    assert saved['centering'] == 'sample'
    assert [r['lambda0'] for r in saved['results']] == [2.5e-4, 2.5e-2]
    assert saved['best']['top1'] == pytest.approx(float(best.group(2)), abs=0.01)
    # train and val features cached; centred by hand as the original (each sample over its own dims), they give the
    # accuracies the tool reported
    (train,), (val,) = (list((tmp_path / 'cache').glob(f'{name}_*.pt')) for name in ('train', 'val'))
    features = {name: torch.load(path, weights_only=True) for name, path in (('train', train), ('val', val))}
    assert features['train']['features'].shape == (14, 48) and features['val']['features'].shape == (360, 48)
    prepared = {
        name: F.normalize(f['features'] - f['features'].mean(dim=1, keepdim=True), dim=1)
        for name, f in features.items()
    }
    sweep = sweep_lambdas(
        prepared['train'],
        features['train']['labels'],
        prepared['val'],
        features['val']['labels'],
        lambdas=[2.5e-4, 2.5e-2],
        num_classes=10,
    )
    for ours, reported in zip(sweep['results'], saved['results'], strict=True):
        assert ours['top1'] == pytest.approx(reported['top1'], abs=0.3)  # up to one of the 360 val images
        assert ours['top5'] == pytest.approx(reported['top5'], abs=0.3)
