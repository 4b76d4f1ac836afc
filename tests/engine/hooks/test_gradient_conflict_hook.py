"""GradientConflictHook (lgp.engine.hooks.gradient_conflict_hook): C_MIM,CL per block logged every ``interval``
iterations, in-process on a fake runner and through tools/train.py on the MTL CPU twin."""

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.models.utils import SelfSupDataPreprocessor
from scalars import logged_scalars

from lgp.analysis import block_gradient_cosines
from lgp.engine import GradientConflictHook
from lgp.models.algorithms import MTLMAEMoCoV3

REPO = Path(__file__).resolve().parents[3]
CONFIG = 'configs/mtl_vit-nano_digits.py'


def mtl_nano() -> MTLMAEMoCoV3:
    """The MTL model of the CPU configs (configs/_base_/models/mtl_vit_nano.py), identity normalisation."""
    cfg = Config.fromfile(REPO / 'configs/_base_/models/mtl_vit_nano.py').model.to_dict()
    cfg.pop('type')
    preprocessor = dict(type=SelfSupDataPreprocessor, mean=[0, 0, 0], std=[1, 1, 1])
    return MTLMAEMoCoV3(**cfg, data_preprocessor=preprocessor)


def test_hook_logs_the_cosines_of_the_iterations_batch_every_interval():
    MessageHub.get_current_instance().update_info('max_iters', 100)  # the momentum schedule reads it
    torch.manual_seed(0)
    model = mtl_nano()
    model.init_weights()
    g = torch.Generator().manual_seed(0)
    data_batch = dict(inputs=[255 * torch.rand(4, 3, 32, 32, generator=g) for _ in range(3)], data_samples=None)
    hub = MessageHub.get_instance(f'test_conflict_hook_{uuid.uuid4().hex}')
    hook = GradientConflictHook(interval=2)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    measured = {}
    for iteration in range(4):
        runner = SimpleNamespace(iter=iteration, model=model, message_hub=hub)
        torch.manual_seed(iteration)  # the MAE masks
        hook.after_train_iter(runner, batch_idx=iteration, data_batch=data_batch)
        if 'train/conflict/mean' in hub.log_scalars:
            measured.setdefault(len(hub.get_scalar('train/conflict/mean').data[0]), iteration)
    assert measured == {1: 1, 2: 3}  # iterations 2 and 4 (1-based): every second one
    assert all(torch.equal(v, before[k]) for k, v in model.named_parameters())
    assert all(p.grad is None for p in model.parameters())

    torch.manual_seed(3)
    expected = block_gradient_cosines(model, model.data_preprocessor(data_batch, True)['inputs'])
    logged = torch.tensor([hub.get_scalar(f'train/conflict/block_{i}').current() for i in range(6)])
    torch.testing.assert_close(logged, expected.to(logged.dtype))
    assert hub.get_scalar('train/conflict/mean').current() == pytest.approx(expected.mean().item())


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match='interval must be >= 1, got 0'):
        GradientConflictHook(interval=0)


def test_hook_logs_conflict_during_mtl_training(digits_root, tmp_path, run_tool):
    run_tool(
        [
            'tools/train.py',
            CONFIG,
            '--work-dir',
            str(tmp_path),
            '--cfg-options',
            f'train_dataloader.dataset.data_root={digits_root}',
            'train_dataloader.dataset.indices=8',
            'train_dataloader.batch_size=8',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=2',  # 1 epoch of warm-up, then the cosine: 2 x 1 iteration
            'default_hooks.logger.interval=1',
            'custom_hooks.0.interval=1',
        ]
    )
    records = logged_scalars(tmp_path)
    assert len(records) == 2
    for record in records:
        cosines = [record[f'conflict/block_{i}'] for i in range(6)]
        assert all(-1.0 <= c <= 1.0 for c in cosines)
        assert abs(record['conflict/mean'] - sum(cosines) / 6) < 1e-6
