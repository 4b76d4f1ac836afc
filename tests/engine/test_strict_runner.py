"""StrictRunner: exact resume, strict all-or-nothing ``load_from`` / ``resume``, ``revise_keys`` applied before the
strict check, the official MoCo v3 release read by ``load_from``, and code-running checkpoints refused.

(Resume with data-loading workers: test_resume_with_workers.py.)
"""

import os
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from official_releases import IMG, mocov3_encoder, mocov3_release, predictor, randomise

from lgp.engine import StrictRunner
from lgp.models import LGPViT
from lgp.models.checkpoint import CheckpointMismatchError

REPO = Path(__file__).resolve().parents[2]
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
    step1 = f'model.step1.checkpoint={mae_checkpoint}'
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run_tool(['tools/train.py', GRAFTED, '--work-dir', str(straight), *small_run(digits_root, 2, step1)])
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
            *small_run(digits_root, 2, step1),
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
    assert {g['lr_mult'] for g in groups_b} == {0.1, 1.0}
    assert all(g['lr'] / top == pytest.approx(g['lr_mult']) for g in groups_b)  # 0.1x / 1x survive the resume
    assert a['param_schedulers'] == b['param_schedulers']


class RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def resume_mae_twin(checkpoint: Path, digits_root: Path, work_dir: Path, run_tool):
    """``tools/train.py`` on the MAE CPU twin resuming from ``checkpoint``; the finished process, failed or not."""
    command = ['tools/train.py', 'configs/mae_vit-nano_digits.py', '--work-dir', str(work_dir), '--resume']
    return run_tool([*command, str(checkpoint), *small_run(digits_root, 3)], check=False)  # 2 epochs of warm-up


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


# --------------------------------------------------------------------------------------- load_checkpoint in-process
def nano_runner(tmp_path: Path) -> StrictRunner:
    """A runner around a nano backbone (no data, no config): what ``load_checkpoint`` needs."""
    torch.manual_seed(0)
    name = f'strict_runner_{uuid.uuid4().hex}'  # mmengine names runners by the second: one instance per runner
    return StrictRunner(model=LGPViT('nano', img_size=32), work_dir=str(tmp_path / 'work'), experiment_name=name)


def random_backbone_state(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=generator) for k, v in LGPViT('nano', img_size=32).state_dict().items()}


@pytest.mark.parametrize(
    'prefix, revise_keys',
    [('model.', [(r'^model\.', '')]), ('module.', None)],
    ids=['revise_keys', 'default-strips-DDP-module'],
)
def test_revise_keys_apply_before_the_strict_check(tmp_path, prefix, revise_keys):
    """Keys renamed by ``revise_keys`` (by default DDP's ``module.`` stripped) are what the strict check sees."""
    state = random_backbone_state(seed=1)
    path = tmp_path / 'prefixed.pth'
    torch.save({'meta': {}, 'state_dict': {prefix + k: v for k, v in state.items()}}, path)
    runner = nano_runner(tmp_path)
    runner.load_checkpoint(str(path), revise_keys=revise_keys)
    loaded = runner.model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_a_revised_checkpoint_that_still_does_not_fit_loads_nothing(tmp_path):
    state = random_backbone_state(seed=1)
    state['layers.0.gate.weight'] = torch.zeros(3)
    path = tmp_path / 'prefixed.pth'
    torch.save({'state_dict': {'model.' + k: v for k, v in state.items()}}, path)
    runner = nano_runner(tmp_path)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        runner.load_checkpoint(str(path), revise_keys=[(r'^model\.', '')])
    assert err.value.unexpected == ['layers.0.gate.weight'] and not err.value.missing  # named after the renaming
    assert all(torch.equal(v, before[k]) for k, v in runner.model.state_dict().items())


# ------------------------------------------------------------------------------ load_from: the MoCo v3 release
def test_load_from_reads_the_official_mocov3_release(digits_root, tmp_path):
    """``checkpoint_*.pth.tar`` of MoCo v3 (layout 'mocov3') as ``load_from`` of the MoCo v3 twin: the same outputs."""
    online, momentum, pred = mocov3_encoder(seed=0), mocov3_encoder(seed=1), randomise(predictor(), 2).eval()
    path = tmp_path / 'checkpoint_0299.pth.tar'
    torch.save(mocov3_release(online, momentum, pred, 'module.'), path)

    cfg = Config.fromfile(REPO / 'configs/mocov3_vit-nano_digits.py')
    cfg.work_dir, cfg.load_from = str(tmp_path / 'work'), str(path)
    cfg.train_dataloader.dataset.data_root = str(digits_root)
    runner = RUNNERS.build(cfg)  # as tools/train.py builds it
    assert isinstance(runner, StrictRunner)
    runner.load_or_resume()
    model = runner.model.eval()
    assert model.momentum_encoder.steps.item() == 1  # the EMA continues from the file's momentum weights
    images = torch.randn(4, 3, IMG, IMG, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        projected = model.neck(model.backbone(images))[0]
        torch.testing.assert_close(projected, online(images), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.head.predictor([projected])[0], pred(projected), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.momentum_encoder(images)[0], momentum(images), atol=1e-5, rtol=1e-5)
