"""A run resumed at an epoch boundary ends where an uninterrupted one does, also with data-loading workers.

Through ``tools/train.py`` with 2 persistent workers (the MAE CPU twin, 3 epochs of 2 iterations, straight through
and stopped after epoch 1, then resumed in a new process with new workers). Each sample's augmentation is a function
of (seed, epoch, sample index) only (``lgp.datasets.seeded_sampling``; a restarted loader, with or without workers,
is tested in tests/datasets/test_seeded_sampling.py).
"""

from pathlib import Path

import torch

CONFIG = 'configs/mae_vit-nano_digits.py'


def small_run(digits_root: Path) -> list[str]:
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=64',
        'train_dataloader.batch_size=32',
        'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True',
        'train_cfg.max_epochs=3',
        'randomness.seed=0',
        'randomness.deterministic=True',
    ]


def test_resume_with_persistent_workers_is_exact(digits_root, tmp_path, run_tool):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(straight), *small_run(digits_root)])
    resumed.mkdir()
    (resumed / 'epoch_1.pth').write_bytes((straight / 'epoch_1.pth').read_bytes())
    command = ['tools/train.py', CONFIG, '--work-dir', str(resumed), '--resume', str(resumed / 'epoch_1.pth')]
    run_tool([*command, *small_run(digits_root)])

    a, b = (torch.load(d / 'epoch_3.pth', weights_only=True) for d in (straight, resumed))
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differing = [k for k, v in a['state_dict'].items() if not torch.equal(v, b['state_dict'][k])]
    assert not differing, f'{len(differing)} of {len(a["state_dict"])} tensors differ after the resume: {differing[:3]}'
    state_a, state_b = a['optimizer']['state'], b['optimizer']['state']
    assert state_a.keys() == state_b.keys()
    for key, values in state_a.items():
        assert values.keys() == state_b[key].keys()
        assert all(torch.equal(values[n], state_b[key][n]) for n in values), f'optimiser state of parameter {key}'
