"""Config mistakes make tools/train.py fail before training, with a message that names the mistake; nothing is
trained or saved. The tool runs in this process (``runpy``) with its command line set, to keep the test fast."""

import re
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GRAFTED = 'configs/grafted_vit-nano_digits.py'
MOCOV3 = 'configs/mocov3_vit-nano_digits.py'


def train(config: str, mistake: str, digits_root: Path, mae_checkpoint: Path, work_dir: Path, monkeypatch) -> None:
    """``python tools/train.py CONFIG --cfg-options ... MISTAKE`` on a CPU twin (the mistake last, so it wins)."""
    options = [
        f'train_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=64',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
    ]
    if config == GRAFTED:
        options.append(f'model.step1.checkpoint={mae_checkpoint}')
    argv = ['tools/train.py', config, '--work-dir', str(work_dir), '--cfg-options', *options, mistake]
    monkeypatch.setattr(sys, 'argv', argv)
    monkeypatch.setenv('LOCAL_RANK', '0')  # the tool sets it if unset; restored afterwards
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / 'tools/train.py'), run_name='__main__')


@pytest.mark.parametrize(
    'config, mistake, error, message',
    [
        (GRAFTED, 'model.backbone.arch=xl', KeyError, "Unknown LGPViT arch 'xl'"),
        (GRAFTED, 'model.lower_blocks=7', ValueError, 'lower_blocks=7 and anchor_blocks=0 must be within the 6 blocks'),
        # the pre-refactor grafted configs set the lrs in paramwise_cfg; the model now declares them itself
        (
            GRAFTED,
            'optim_wrapper.paramwise_cfg.lr_layer_wise=1.5e-5,1.5e-5,1.5e-4',
            ValueError,
            "GraftedMoCoV3 sets its own block learning rates (block_lr_groups=[{'blocks': (0, 4), 'lr_mult': 0.1}, "
            "{'blocks': (4, 6), 'lr_mult': 1.0}]); remove paramwise_cfg ['lr_layer_wise']",
        ),
        (
            MOCOV3,
            'optim_wrapper.paramwise_cfg.lr_layer_wise=1e-5,1e-4,1e-4,1e-4',
            ValueError,
            'lr_layer_wise has 4 values but the backbone has 6 blocks, which do not split into 4 equal groups',
        ),
        (
            MOCOV3,
            'optim_wrapper.paramwise_cfg.weight_decay_rule=skip_cls_token',
            ValueError,
            "weight_decay_rule must be one of ['all', 'skip_1d', 'skip_1d_and_tokens'], got 'skip_cls_token'",
        ),
    ],
    ids=['unknown-arch', 'lower-blocks-out-of-range', 'block-lrs-twice', 'unequal-lr-layer-wise', 'unknown-wd-rule'],
)
def test_config_mistakes_fail_before_training(
    config, mistake, error, message, digits_root, mae_checkpoint, tmp_path, monkeypatch
):
    with pytest.raises(error, match=re.escape(message)):
        train(config, mistake, digits_root, mae_checkpoint, tmp_path / 'work', monkeypatch)
    assert not list(tmp_path.rglob('*.pth'))  # nothing trained, nothing saved


def test_missing_step1_checkpoint_is_named_before_anything_is_built(
    digits_root, mae_checkpoint, tmp_path, monkeypatch, capsys
):
    """The preflight check: exit code 1 and one line per missing file with the option that sets it."""
    mistake = 'model.step1.checkpoint=no/such/mae.pth'
    with pytest.raises(SystemExit) as exit_info:
        train(GRAFTED, mistake, digits_root, mae_checkpoint, tmp_path / 'work', monkeypatch)
    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err
    assert '- no/such/mae.pth: no such file (set by model.step1.checkpoint)' in stderr
    assert '--cfg-options model.step1.checkpoint=PATH' in stderr
    assert not list(tmp_path.rglob('*'))  # not even a log: nothing was built
