"""Loss and kNN curves of pre-training runs, read from what mmengine logged."""

import json
from pathlib import Path

import matplotlib.image
import pytest

from lgp.visualization import plot_training_curves, read_scalars


def _log(run: Path, folder: str, records: list[dict]) -> None:
    path = run / folder / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_read_scalars_joins_a_resumed_runs_folders_in_order(tmp_path: Path) -> None:
    _log(tmp_path, '20260101_000000', [dict(iter=1, loss=2.0)])
    _log(tmp_path, '20260102_000000', [dict(iter=2, loss=1.0), {'knn/top1': 40.0, 'step': 2}])
    assert read_scalars(tmp_path) == [dict(iter=1, loss=2.0), dict(iter=2, loss=1.0), {'knn/top1': 40.0, 'step': 2}]
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        read_scalars(tmp_path / 'nothing')


def test_a_panel_per_run_with_or_without_the_monitor(tmp_path: Path) -> None:
    _log(tmp_path / 'a', 't', [dict(iter=i, loss=1.0 / i) for i in (1, 2)] + [{'knn/top1': 50.0, 'step': 0}])
    _log(tmp_path / 'b', 't', [dict(iter=i, loss=1.0 / i) for i in (1, 2)])
    path = plot_training_curves({'A': tmp_path / 'a', 'B': tmp_path / 'b'}, tmp_path / 'curves.png', columns=1)
    height, width, _ = matplotlib.image.imread(path).shape
    assert (height, width) == (round(2 * 3.2 * 110), round(4.2 * 110))  # two rows of one panel, 110 dpi
    with pytest.raises(ValueError, match='No runs'):
        plot_training_curves({}, tmp_path / 'none.png')
