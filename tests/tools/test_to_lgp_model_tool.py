"""tools/model_converters/to_lgp_model.py, run as a real process: a whole-model release in the official layout (MAE
with its decoder, ``mae_visualize_vit_*.pth``; MoCo v3 / the original Layer Grafted release, ``checkpoint_*.pth.tar``)
-> an lgp checkpoint that the nano config models (``LGPMAE``, ``LGPMoCoV3``) load strictly.

The releases are written here from their own definitions: timm ``VisionTransformer`` encoders (the official code's
encoder), the MAE decoder's parameters by the release's names (timm ``Block``s), MoCo v3's projector and predictor as
``nn.Sequential(Linear, BatchNorm1d, ReLU, ...)``, saved from DistributedDataParallel (``module.``). Every value is
random and distinct, so where each tensor lands can be checked by value.
"""

from pathlib import Path

import official_releases
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from official_releases import OfficialMAEDecoder, mocov3_encoder, predictor, timm_encoder

import lgp  # noqa: F401  (registrations; safe-load allow-list for mmengine checkpoints)

REPO = Path(__file__).resolve().parents[2]
TOOL = 'tools/model_converters/to_lgp_model.py'
MODELS_DIR = 'configs/_base_/models'
IMG, PATCH, D, DEPTH, HEADS = 32, 4, 48, 6, 3  # the nano LGPViT: 8 x 8 patches
DEC_D, DEC_DEPTH, DEC_HEADS = 64, 2, 4  # mae_vit_nano.py's decoder
PROJ_HID, PROJ_OUT = 128, 32  # mocov3_vit_nano.py's projector and predictor


def mae_release() -> dict[str, torch.Tensor]:
    """The keys of ``MaskedAutoencoderViT`` (official MAE): the encoder, then the decoder."""
    return official_releases.mae_release(timm_encoder(seed=0), OfficialMAEDecoder())['model']


def mocov3_release() -> dict[str, torch.Tensor]:
    """``MoCo_ViT``'s keys under DDP: base and momentum encoders (head = the projector) and the predictor."""
    release = official_releases.mocov3_release(mocov3_encoder(seed=0), mocov3_encoder(seed=1), predictor(), 'module.')
    return release['state_dict']


def randomised(state_dict: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        k: torch.rand(v.shape, generator=generator) + 0.5 if v.is_floating_point() else v for k, v in state_dict.items()
    }


# (release, config, file name, how the release is saved, {release key: lgp key} written from the two code bases)
RELEASES = {
    'mae': (
        mae_release,
        'mae_vit_nano.py',
        'mae_visualize_vit_nano.pth',
        lambda sd: {'model': sd},
        {
            'patch_embed.proj.weight': 'backbone.patch_embed.projection.weight',
            'blocks.5.mlp.fc2.weight': 'backbone.layers.5.ffn.layers.1.weight',
            'blocks.0.norm1.bias': 'backbone.layers.0.ln1.bias',
            'norm.weight': 'backbone.ln1.weight',
            'mask_token': 'neck.mask_token',
            'decoder_blocks.1.attn.qkv.weight': 'neck.decoder_blocks.1.attn.qkv.weight',
            'decoder_norm.weight': 'neck.ln1.weight',
            'decoder_pred.bias': 'neck.decoder_pred.bias',
        },
    ),
    'mocov3': (
        mocov3_release,
        'mocov3_vit_nano.py',
        'checkpoint_0299.pth.tar',
        lambda sd: {'epoch': 300, 'arch': 'vit_nano', 'state_dict': sd, 'optimizer': {}},
        {
            'module.base_encoder.cls_token': 'backbone.cls_token',
            'module.base_encoder.blocks.3.attn.qkv.weight': 'backbone.layers.3.attn.qkv.weight',
            'module.momentum_encoder.blocks.3.attn.qkv.weight': 'momentum_encoder.module.0.layers.3.attn.qkv.weight',
            'module.base_encoder.head.0.weight': 'neck.fc0.weight',
            'module.base_encoder.head.1.running_mean': 'neck.bn0.running_mean',
            'module.momentum_encoder.head.6.weight': 'momentum_encoder.module.1.fc2.weight',
            'module.predictor.0.weight': 'head.predictor.fc0.weight',
            'module.predictor.4.running_var': 'head.predictor.bn1.running_var',
        },
    ),
}


def build(config: str) -> nn.Module:
    init_default_scope('mmpretrain')
    return MODELS.build(Config.fromfile(REPO / MODELS_DIR / config).model)


@pytest.mark.parametrize('layout', list(RELEASES))
def test_a_release_converts_and_loads_strictly_into_its_config_model(layout: str, tmp_path: Path, run_tool) -> None:
    make, config, name, wrap, names = RELEASES[layout]
    release = randomised(make(), seed=0)
    src, dst = tmp_path / name, tmp_path / 'converted.pth'
    torch.save(wrap(release), src)
    result = run_tool([TOOL, str(src), str(dst), '--config', f'{MODELS_DIR}/{config}'])
    steps = 1 if layout == 'mocov3' else 0  # the momentum encoder's step count, added
    assert result.stdout.splitlines() == [
        f"{src}: layout '{layout}', {len(release) + steps} tensors",
        f'  checked against the model of {MODELS_DIR}/{config}: every key and shape matches',
        f'wrote {dst}',
    ]

    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta'] == {'converted_from': layout}
    model = build(config)
    model.load_state_dict(saved['state_dict'], strict=True)
    loaded = model.state_dict()
    for release_key, lgp_key in names.items():
        assert torch.equal(loaded[lgp_key], release[release_key]), lgp_key
    # every tensor of the release is in the model once (the values are distinct), and nothing else is
    by_value = {tuple(v.flatten().tolist()): k for k, v in release.items() if v.is_floating_point()}
    assert len(by_value) == sum(v.is_floating_point() for v in release.values())
    landed = sorted(by_value[tuple(v.flatten().tolist())] for v in loaded.values() if v.is_floating_point())
    assert landed == sorted(by_value.values())
    if layout == 'mocov3':  # so that training continues the momentum encoder from the file's momentum weights
        assert loaded['momentum_encoder.steps'].item() == 1


def test_a_release_that_does_not_fit_the_config_is_named_and_not_written(tmp_path: Path, run_tool) -> None:
    src, dst = tmp_path / 'checkpoint_0299.pth.tar', tmp_path / 'converted.pth'
    torch.save({'state_dict': randomised(mocov3_release(), seed=0)}, src)
    result = run_tool([TOOL, str(src), str(dst), '--config', f'{MODELS_DIR}/mae_vit_nano.py'], check=False)
    assert result.returncode != 0
    assert 'CheckpointMismatchError' in result.stderr
    assert 'neck.decoder_embed.weight' in result.stderr and 'head.predictor.fc0.weight' in result.stderr
    assert not dst.exists()
