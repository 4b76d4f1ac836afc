"""tools/train.py on the quick-start config (configs/mae_vit-nano_digits.py), run as real processes.

Training runs use the first 64 digits in batches of 32 (2 iterations an epoch) with the warm-up shortened to 1 epoch
(the config's is 2; a run must outlast its warm-up), to stay fast on two CPU cores.
"""

import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from scalars import logged_scalars

import lgp  # noqa: F401  (safe-load allow-list for mmengine checkpoints)

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/mae_vit-nano_digits.py'


def small_run_options(digits_root: Path, max_epochs: int, batch_size: int = 32, images: int = 64) -> list[str]:
    """``--cfg-options`` for a short run on the first ``images`` training digits, 1 warm-up epoch, logging every
    iteration."""
    return [
        '--cfg-options',
        f'train_cfg.max_epochs={max_epochs}',
        'param_scheduler.0.end=1',
        'param_scheduler.1.begin=1',
        f'train_dataloader.batch_size={batch_size}',
        f'train_dataloader.dataset.data_root={digits_root}',
        f'train_dataloader.dataset.indices={images}',
        'default_hooks.logger.interval=1',
    ]


def load_checkpoint(path: Path) -> dict:
    """Load an mmengine checkpoint the safe way (``weights_only=True``, with lgp's allow-list)."""
    return torch.load(path, map_location='cpu', weights_only=True)


def adamw_steps(checkpoint: dict) -> set[int]:
    """The step counts held in the optimiser state of ``checkpoint``."""
    return {int(state['step']) for state in checkpoint['optimizer']['state'].values()}


@pytest.fixture(scope='module')
def two_epoch_run(digits_root: Path, tmp_path_factory: pytest.TempPathFactory, run_tool) -> Path:
    """Work dir of a 2-epoch (4-iteration) quick-start run."""
    work_dir = tmp_path_factory.mktemp('train')
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), *small_run_options(digits_root, 2)])
    return work_dir


def test_train_logs_finite_losses_and_saves_checkpoint(two_epoch_run: Path) -> None:
    records = [r for r in logged_scalars(two_epoch_run) if 'loss' in r]
    assert [r['iter'] for r in records] == [1, 2, 3, 4]
    assert all(math.isfinite(r['loss']) and r['loss'] > 0 for r in records)
    assert (two_epoch_run / 'last_checkpoint').read_text().strip().endswith('epoch_2.pth')
    checkpoint = load_checkpoint(two_epoch_run / 'epoch_2.pth')
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (2, 4)
    assert adamw_steps(checkpoint) == {4}
    assert any(key.startswith('backbone.layers.5.') for key in checkpoint['state_dict'])
    assert any(key.startswith('neck.decoder_blocks.1.') for key in checkpoint['state_dict'])


def test_resume_auto_continues_with_optimizer_state(two_epoch_run: Path, digits_root: Path, run_tool) -> None:
    result = run_tool(
        ['tools/train.py', CONFIG, '--work-dir', str(two_epoch_run), '--resume', *small_run_options(digits_root, 3)]
    )
    assert 'resumed epoch: 2, iter: 4' in result.stdout + result.stderr
    checkpoint = load_checkpoint(two_epoch_run / 'epoch_3.pth')
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (3, 6)
    assert adamw_steps(checkpoint) == {6}
    resumed = [r['iter'] for r in logged_scalars(two_epoch_run) if 'loss' in r]
    assert resumed[-2:] == [5, 6]


def test_amp_on_cpu_trains_in_bfloat16(tmp_path: Path, digits_root: Path, run_tool) -> None:
    # 2 epochs of 1 iteration (32 digits)
    options = small_run_options(digits_root, 2, images=32)
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path), '--amp', *options])
    dumped = (tmp_path / Path(CONFIG).name).read_text()
    assert "'CPUAmpOptimWrapper'" in dumped and "'bfloat16'" in dumped
    losses = [r['loss'] for r in logged_scalars(tmp_path) if 'loss' in r]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)


def test_a_run_shorter_than_its_warm_up_stops_before_anything_is_built(
    tmp_path: Path, digits_root: Path, run_tool
) -> None:
    """The config's warm-up is 2 epochs: a 1-epoch run exits 1 with lgp.engine.check_schedule_fits's message."""
    options = ['--cfg-options', 'train_cfg.max_epochs=1', f'train_dataloader.dataset.data_root={digits_root}']
    result = run_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'), *options], check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'train_cfg.max_epochs=1 ends before param_scheduler[1] begins (begin=2): the run is shorter than its '
        'warm-up. Run at least 3 epochs.'
    )
    assert not (tmp_path / 'work').exists()  # not even a log: nothing was built


def test_quickstart_optimizer_trains_all_but_the_fixed_embeddings_by_its_declared_rule() -> None:
    """The quick-start model as built for training: the sin-cos embeddings are frozen and out of the optimiser; every
    other tensor is optimised once, with weight decay by the config's rule ('skip_1d': none on 1-D tensors).

    Whether that rule is MAE's own (tensor by tensor) is tests/configs/test_pretrain_configs.py's question."""
    cfg = Config.fromfile(REPO_ROOT / CONFIG)
    assert cfg.optim_wrapper.paramwise_cfg.weight_decay_rule == 'skip_1d'
    wd = cfg.optim_wrapper.optimizer.weight_decay
    assert wd == 0.05
    init_default_scope('mmpretrain')  # earlier tests may leave mmseg's scope current
    model = MODELS.build(cfg.model)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    optimised = [id(p) for group in optimizer.param_groups for p in group['params']]
    decay_of = {id(p): group['weight_decay'] for group in optimizer.param_groups for p in group['params']}
    assert len(optimised) == len(set(optimised))
    frozen = {name for name, param in model.named_parameters() if not param.requires_grad}
    assert frozen == {'backbone.pos_embed', 'neck.decoder_pos_embed'}  # fixed sin-cos embeddings
    for name, param in model.named_parameters():
        if name in frozen:
            assert id(param) not in decay_of, name
        else:
            assert decay_of[id(param)] == (0.0 if param.ndim == 1 else wd), name
    # the tokens are not 1-D: decayed under this rule
    assert decay_of[id(model.backbone.cls_token)] == decay_of[id(model.neck.mask_token)] == wd
