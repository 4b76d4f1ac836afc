"""Failures are harmless: exact resume, NaN losses, corrupt images, bad checkpoints and config mistakes."""

import hashlib
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from lgp.datasets.transforms import CorruptImageError, LoadImageFromFile
from lgp.models import LGPViT
from lgp.models.algorithms.finite_loss import NonFiniteLossError

REPO = Path(__file__).resolve().parents[1]
GRAFTED = 'configs/grafted-l1_vit-nano_digits.py'


def small_run(digits_root: Path, epochs: int, *extra: str) -> list[str]:
    """Options for a deterministic CPU run of 2 iterations per epoch."""
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=64',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_cfg.max_epochs={epochs}',
        'randomness.seed=0',
        'randomness.deterministic=True',
        *extra,
    ]


def test_resume_is_exact(digits_root, mae_checkpoint, tmp_path, run_tool):
    """Stopped after epoch 1 and resumed, a grafted run (EMA, L1 anchor, lr groups) ends where an uninterrupted one
    does: same weights, optimiser state, momentum encoder, lr of every group."""
    init = f'model.backbone.init_cfg.checkpoint={mae_checkpoint}'
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run_tool(['tools/train.py', GRAFTED, '--work-dir', str(straight), *small_run(digits_root, 2, init)])
    resumed.mkdir()
    (resumed / 'epoch_1.pth').write_bytes((straight / 'epoch_1.pth').read_bytes())
    run_tool(
        [
            'tools/train.py',
            GRAFTED,
            '--work-dir',
            str(resumed),
            '--resume',
            str(resumed / 'epoch_1.pth'),
            *small_run(digits_root, 2, init),
        ]
    )
    a, b = (torch.load(d / 'epoch_2.pth', weights_only=True) for d in (straight, resumed))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for (ka, sa), (kb, sb) in zip(a['optimizer']['state'].items(), b['optimizer']['state'].items(), strict=True):
        assert ka == kb and all(torch.equal(sa[n], sb[n]) for n in sa)
    groups_a, groups_b = a['optimizer']['param_groups'], b['optimizer']['param_groups']
    assert [g['lr'] for g in groups_a] == [g['lr'] for g in groups_b]
    top = max(g['lr'] for g in groups_b)
    assert all(g['lr'] / top == pytest.approx(g['lr_mult']) for g in groups_b)  # 0.1x / 1x survive the resume
    assert a['param_schedulers'] == b['param_schedulers']


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(digits_root, tmp_path, monkeypatch):
    cfg = Config.fromfile(REPO / 'configs/mae_vit-nano_digits.py')
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=32)
    cfg.train_dataloader.dataset.update(data_root=str(digits_root), indices=64)
    cfg.train_cfg.max_epochs = 3
    runner = Runner.from_cfg(cfg)
    reconstruction_loss = runner.model.head.loss_module.forward
    calls = []

    def loss_turning_nan(*args, **kwargs):
        calls.append(1)
        loss = reconstruction_loss(*args, **kwargs)
        return loss * float('nan') if len(calls) == 4 else loss

    monkeypatch.setattr(runner.model.head.loss_module, 'forward', loss_turning_nan)
    with pytest.raises(NonFiniteLossError, match=r'Non-finite loss at iteration 4: \{\'loss\': nan\}'):
        runner.train()
    good = tmp_path / 'epoch_1.pth'
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    assert not (tmp_path / 'epoch_2.pth').exists()
    checkpoint = torch.load(good, weights_only=True)
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values() if v.is_floating_point())
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())  # stopped before the optimiser step
    assert hashlib.sha256(good.read_bytes()).hexdigest() == digest


def corrupt_copy(digits_root: Path, tmp_path: Path) -> Path:
    """A one-image data set whose image is truncated."""
    line = (digits_root / 'meta/train.txt').read_text().splitlines()[0]
    relative = line.split()[0]
    target = tmp_path / relative
    target.parent.mkdir(parents=True)
    target.write_bytes((digits_root / relative).read_bytes()[:40])
    (tmp_path / 'ann.txt').write_text(line + '\n')
    return target


def test_corrupt_image_is_named(digits_root, tmp_path):
    target = corrupt_copy(digits_root, tmp_path)
    with pytest.raises(CorruptImageError, match=rf'Cannot read image {target}.*skip_corrupt=True'):
        LoadImageFromFile()(dict(img_path=str(target)))
    assert LoadImageFromFile(skip_corrupt=True)(dict(img_path=str(target))) is None


def test_corrupt_image_in_a_data_set_fails_instead_of_hanging(digits_root, tmp_path):
    """With skip_corrupt and nothing readable, mmengine's refetch gives up after max_refetch tries."""
    from mmpretrain.datasets import CustomDataset, PackInputs

    corrupt_copy(digits_root, tmp_path)
    dataset = CustomDataset(
        data_root=str(tmp_path),
        ann_file='ann.txt',
        data_prefix='',
        max_refetch=5,
        pipeline=[dict(type=LoadImageFromFile, skip_corrupt=True), dict(type=PackInputs)],
    )
    with pytest.raises(Exception, match='Cannot find valid image after 5'):
        dataset[0]


class RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def resume_mae_twin(checkpoint: Path, digits_root: Path, work_dir: Path, run_tool):
    """``tools/train.py`` on the MAE CPU twin resuming from ``checkpoint``; the finished process, failed or not."""
    command = ['tools/train.py', 'configs/mae_vit-nano_digits.py', '--work-dir', str(work_dir), '--resume']
    return run_tool([*command, str(checkpoint), *small_run(digits_root, 1)], check=False)


def test_resume_refuses_a_code_running_checkpoint(digits_root, tmp_path, run_tool):
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': RunsCode(str(marker))}, evil)
    result = resume_mae_twin(evil, digits_root, tmp_path, run_tool)
    assert result.returncode != 0 and 'Refusing to load' in result.stderr and 'posix.system' in result.stderr
    assert not marker.exists()


def test_resume_from_another_architecture_lists_keys_and_shapes(digits_root, tmp_path, run_tool):
    other = LGPViT(dict(embed_dims=96, num_layers=6, num_heads=3, feedforward_channels=192), img_size=32, patch_size=4)
    checkpoint = tmp_path / 'other.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in other.state_dict().items()}}, checkpoint)
    result = resume_mae_twin(checkpoint, digits_root, tmp_path, run_tool)
    assert result.returncode != 0 and 'CheckpointMismatchError' in result.stderr
    assert 'missing in the checkpoint' in result.stderr and 'neck.decoder_embed.weight' in result.stderr
    assert 'shape of backbone.layers.0.attn.qkv.weight: checkpoint (288, 96) vs model (144, 48)' in result.stderr


def uncovered_groups(cfg: Config) -> None:
    cfg.optim_wrapper.paramwise_cfg = dict(block_groups=[dict(blocks=(0, 4), lr_mult=0.1)])


def unequal_lr_layer_wise(cfg: Config) -> None:
    cfg.optim_wrapper.paramwise_cfg = dict(lr_layer_wise='1e-5,1e-4,1e-4,1e-4')


def unknown_arch(cfg: Config) -> None:
    cfg.model.backbone.arch = 'xl'


def missing_mae_checkpoint(cfg: Config) -> None:
    cfg.model.backbone.init_cfg.checkpoint = 'no/such/mae.pth'


@pytest.mark.parametrize(
    'mistake, error, message',
    [
        (unknown_arch, KeyError, "Unknown LGPViT arch 'xl'"),
        (uncovered_groups, ValueError, r'block_groups leave blocks 4-5 of the 6 blocks .* uncovered'),
        (unequal_lr_layer_wise, ValueError, 'do not split into 4 equal groups'),
        (missing_mae_checkpoint, FileNotFoundError, r'Checkpoint no/such/mae.pth not found\. Set the path'),
    ],
)
def test_config_mistakes_fail_before_training(mistake, error, message, digits_root, mae_checkpoint, tmp_path):
    cfg = Config.fromfile(REPO / 'configs/grafted_vit-nano_digits.py')
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.update(data_root=str(digits_root), indices=64)
    cfg.model.backbone.init_cfg.checkpoint = str(mae_checkpoint)
    mistake(cfg)
    with pytest.raises(error, match=message):
        Runner.from_cfg(cfg).train()
    assert not list(tmp_path.glob('*.pth'))  # nothing trained, nothing saved
