"""The TensorBoard switch documented in configs/_base_/default_runtime.py: the one line of a derived config, and the
``--cfg-options`` form, give a runner whose visualiser writes a TensorBoard event file holding the logged scalars."""

from pathlib import Path

import pytest
import torch.nn as nn
from mmengine.runner import Runner

from lgp.engine import load_config

pytest.importorskip('tensorboard', reason='the TensorBoard backend needs `pip install tensorboard`')
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SWITCH = 'visualizer.vis_backends.append(dict(type=TensorboardVisBackend))'
DERIVED = f"""from mmengine.config import read_base
from mmengine.visualization import TensorboardVisBackend

with read_base():
    from ..configs.{{base}} import *

{SWITCH}
"""
RUNTIMES = {  # the project's runtime, and the segmentation one that builds mmseg's visualiser on its backends
    'default': '_base_.default_runtime',
    'segmentation': 'segmentation._base_.default_runtime',
}


def derived_config(tmp_path: Path, base: str) -> Path:
    """A config in its own folder deriving from ``configs/<base>`` (reached through a link) with the switch."""
    (tmp_path / 'configs').symlink_to(REPO / 'configs', target_is_directory=True)
    path = tmp_path / 'mine' / 'with_tensorboard.py'
    path.parent.mkdir()
    path.write_text(DERIVED.format(base=base))
    return path


def log_scalars(cfg, work_dir: Path) -> Path:
    """Build a runner (a stand-in model) with ``cfg``'s visualiser, log two steps of scalars; its vis_data folder."""
    runner = Runner(
        model=nn.Linear(2, 2),
        work_dir=str(work_dir),
        visualizer=cfg.visualizer,
        default_scope=cfg.default_scope,
        experiment_name=f'tensorboard_{work_dir.parent.name}',  # its own visualiser: a name shared would reuse one
    )
    for step, loss in ((1, 0.75), (2, 0.5)):
        runner.visualizer.add_scalars({'loss': loss}, step=step)
    runner.visualizer.close()
    return Path(runner.log_dir) / 'vis_data'


def read_events(vis_data: Path) -> list[tuple[int, float]]:
    (event_file,) = vis_data.glob('events.out.tfevents.*')
    events = EventAccumulator(str(event_file))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars('loss')]


def test_the_runtime_documents_the_switch() -> None:
    assert SWITCH in (REPO / 'configs' / '_base_' / 'default_runtime.py').read_text()


@pytest.mark.parametrize('runtime', RUNTIMES)
def test_the_one_line_of_a_derived_config_adds_tensorboard(tmp_path: Path, runtime: str) -> None:
    cfg = load_config(str(derived_config(tmp_path, RUNTIMES[runtime])))
    assert len(cfg.visualizer.vis_backends) == 2
    vis_data = log_scalars(cfg, tmp_path / 'work_dir')
    assert read_events(vis_data) == [(1, 0.75), (2, 0.5)]
    assert (vis_data / 'scalars.json').is_file()  # the local backend is kept


def test_the_command_line_form_swaps_the_local_backend_for_tensorboard(tmp_path: Path) -> None:
    options = {'visualizer.vis_backends.0.type': 'TensorboardVisBackend'}
    cfg = load_config(str(REPO / 'configs' / 'mae_vit-nano_digits.py'), options)
    vis_data = log_scalars(cfg, tmp_path / 'work_dir')
    assert read_events(vis_data) == [(1, 0.75), (2, 0.5)]
    assert not (vis_data / 'scalars.json').exists()
