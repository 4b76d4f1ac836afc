"""tools/model_converters/graft_encoder.py, run as a real process: one nano encoder assembled from an MAE checkpoint
(embeddings and the lower blocks) and a MoCo v3 checkpoint (the upper blocks and the final norm), both lgp whole-model
checkpoints, as the original release's ``--graft_CL_end``."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import lgp  # noqa: F401  (registrations; safe-load allow-list for mmengine checkpoints)
from lgp.models import LGPViT
from lgp.models.checkpoint import load_backbone_checkpoint

REPO = Path(__file__).resolve().parents[2]
TOOL = 'tools/model_converters/graft_encoder.py'
SPLIT, DEPTH = 4, 6  # blocks 0-3 from the MIM checkpoint, 4-5 from the CL one


def save_model(config: str, seed: int, path: Path) -> dict[str, torch.Tensor]:
    """An lgp checkpoint of a nano config model (as training saves it), every float tensor random; its state dict.

    Random everywhere (not the initialisation, which gives zero biases, unit norms, the same sin-cos embedding): two
    files, and MoCo v3's online and momentum encoders, then differ in every tensor.
    """
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(REPO / 'configs/_base_/models' / config).model)
    generator = torch.Generator().manual_seed(seed)
    state_dict = {
        k: torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    torch.save({'state_dict': state_dict, 'meta': {'epoch': 1}}, path)
    return state_dict


@pytest.fixture(scope='module')
def step1_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path, dict]:
    """(MAE file, its state dict, MoCo v3 file, its state dict): different random encoders."""
    folder = tmp_path_factory.mktemp('graft_sources')
    mae, mocov3 = folder / 'mae.pth', folder / 'mocov3.pth'
    return mae, save_model('mae_vit_nano.py', 0, mae), mocov3, save_model('mocov3_vit_nano.py', 1, mocov3)


def graft(run_tool, lower: Path, upper: Path, dst: Path, *options: str, check: bool = True):
    command = [TOOL, str(lower), str(upper), str(dst), '--split', str(SPLIT), '--arch', 'nano', '--img-size', '32']
    return run_tool([*command, *options], check=check)


def source_of(key: str) -> str:
    """Which checkpoint a backbone tensor must come from: the embeddings and blocks < SPLIT from the lower one."""
    if key.startswith('layers.'):
        return 'lower' if int(key.split('.')[1]) < SPLIT else 'upper'
    return 'upper' if key.startswith('ln1.') else 'lower'


@pytest.mark.parametrize(
    'upper_encoder, upper_prefix', [('online', 'backbone.'), ('momentum', 'momentum_encoder.module.0.')]
)
def test_each_part_comes_from_its_file_and_the_report_says_so(
    step1_files, tmp_path: Path, run_tool, upper_encoder: str, upper_prefix: str
) -> None:
    mae, mae_state, mocov3, mocov3_state = step1_files
    dst = tmp_path / 'grafted.pth'
    result = graft(run_tool, mae, mocov3, dst, '--upper-encoder', upper_encoder)

    saved = torch.load(dst, map_location='cpu', weights_only=True)
    reference = LGPViT('nano', img_size=32).state_dict()
    assert set(saved['state_dict']) == set(reference)  # a backbone-only file, every tensor of the encoder
    sources = {'lower': (mae_state, 'backbone.'), 'upper': (mocov3_state, upper_prefix)}
    for key, value in saved['state_dict'].items():
        state, prefix = sources[source_of(key)]
        assert torch.equal(value, state[prefix + key]), key
        other_state, other_prefix = sources['upper' if source_of(key) == 'lower' else 'lower']
        assert not torch.equal(value, other_state[other_prefix + key]), key
    # the parts are those named in the report, line by line, and in the file's meta
    lower = f'{mae} (mmengine, online encoder)'
    upper = f'{mocov3} (mmengine, {upper_encoder} encoder)'
    expected = {'embeddings': lower, **{f'block {i}': lower if i < SPLIT else upper for i in range(DEPTH)}}
    expected['final norm'] = upper
    assert saved['meta']['grafted_from'] == expected
    report = [f'  {part}: {source}' for part, source in expected.items()]  # logged once, by graft_encoder
    lines = result.stdout.splitlines()
    assert lines[-len(report) - 1 :] == [*report, f'wrote {dst}']
    assert sum(line.endswith('Step-1 encoder grafted:') for line in lines) == 1

    # the file loads strictly into the backbone it was made for
    backbone = LGPViT('nano', img_size=32)
    assert load_backbone_checkpoint(backbone, dst) == {}
    assert all(torch.equal(v, saved['state_dict'][k]) for k, v in backbone.state_dict().items())


def test_a_part_missing_from_its_file_fails_and_writes_nothing(step1_files, tmp_path: Path, run_tool) -> None:
    mae, mae_state, mocov3, _ = step1_files
    broken = {k: v for k, v in mae_state.items() if not k.startswith('backbone.layers.1.')}
    torch.save({'state_dict': broken}, tmp_path / 'mae_without_block_1.pth')
    dst = tmp_path / 'grafted.pth'
    result = graft(run_tool, tmp_path / 'mae_without_block_1.pth', mocov3, dst, check=False)
    assert result.returncode != 0
    assert 'CheckpointMismatchError' in result.stderr and 'missing in the checkpoint' in result.stderr
    assert 'layers.1.attn.qkv.weight' in result.stderr
    assert not dst.exists()


def test_a_split_outside_the_blocks_is_refused(step1_files, tmp_path: Path, run_tool) -> None:
    mae, _, mocov3, _ = step1_files
    dst = tmp_path / 'grafted.pth'
    command = [TOOL, str(mae), str(mocov3), str(dst), '--split', '7', '--arch', 'nano', '--img-size', '32']
    result = run_tool(command, check=False)
    assert result.returncode != 0 and 'is not a range within the 6 blocks' in result.stderr
    assert not dst.exists()
