"""Whole-model readers of the official releases, against independent references built here.

- MAE with its decoder: a reference of the official ``MaskedAutoencoderViT`` decoder (timm ``Block``s, parameters
  named as the release's keys, ``forward_decoder`` as the official code defines it) and a timm encoder, saved in the
  release's layout, loaded into lgp's nano ``MAE``: the same reconstructions.
- MoCo v3 / the original Layer Grafted release: timm encoders whose ``head`` is the MoCo v3 projector and a
  predictor, both plain ``nn.Sequential(Linear, BatchNorm1d, ReLU, ...)`` as the paper describes, saved in the
  release's layout, loaded into lgp's nano ``MoCoV3``: the same projections, predictions and momentum outputs, and a
  momentum encoder that then moves by the EMA rule from the file's momentum weights.
"""

import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from official_releases import (
    IMG,
    NUM_PATCHES,
    PATCH,
    D,
    OfficialMAEDecoder,
    mae_release,
    mocov3_encoder,
    mocov3_release,
    predictor,
    randomise,
    timm_encoder,
)

from lgp.models.checkpoint import CheckpointMismatchError, load_model_checkpoint, read_model

REPO = Path(__file__).resolve().parents[3]
MODELS_DIR = REPO / 'configs' / '_base_' / 'models'


def build(config: str) -> nn.Module:
    init_default_scope('mmpretrain')
    return MODELS.build(Config.fromfile(MODELS_DIR / config).model)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(4, 3, IMG, IMG, generator=torch.Generator().manual_seed(7))


def test_official_mae_with_decoder_reconstructs_as_the_reference(tmp_path, images):
    encoder, decoder = timm_encoder(seed=0).eval(), randomise(OfficialMAEDecoder(), seed=1).eval()
    path = tmp_path / 'mae_visualize_vit_nano.pth'
    torch.save(mae_release(encoder, decoder), path)

    state_dict, layout, dropped = read_model(path)
    assert layout == 'mae' and dropped == {}
    model = build('mae_vit_nano.py')
    model.load_state_dict(state_dict, strict=True)
    model.eval()

    batch, keep = 4, NUM_PATCHES // 4
    generator = torch.Generator().manual_seed(3)
    latent = torch.randn(batch, 1 + keep, D, generator=generator)
    ids_restore = torch.argsort(torch.argsort(torch.rand(batch, NUM_PATCHES, generator=generator), dim=1), dim=1)
    with torch.no_grad():
        expected = decoder.forward_decoder(latent, ids_restore)
        assert expected.shape == (batch, NUM_PATCHES, PATCH**2 * 3)
        torch.testing.assert_close(model.neck(latent, ids_restore), expected, atol=1e-5, rtol=1e-5)
        # the encoder too (CLS token after the final norm)
        torch.testing.assert_close(
            model.backbone(images)[0], encoder.forward_features(images)[:, 0], atol=1e-5, rtol=1e-5
        )


def test_encoder_only_mae_release_is_sent_to_the_backbone_readers():
    with pytest.raises(ValueError, match='holds no decoder'):
        read_model({'model': timm_encoder(seed=0).state_dict()})


@pytest.mark.parametrize('wrapper', ['module.', ''])
def test_official_mocov3_release_gives_the_reference_outputs(tmp_path, images, wrapper):
    online, momentum, pred = mocov3_encoder(seed=0), mocov3_encoder(seed=1), randomise(predictor(), 2).eval()
    path = tmp_path / 'checkpoint_0299.pth.tar'
    torch.save(mocov3_release(online, momentum, pred, wrapper), path)

    model = build('mocov3_vit_nano.py')
    assert load_model_checkpoint(model, path) == {}
    assert model.momentum_encoder.steps.item() == 1
    model.eval()
    with torch.no_grad():
        projected = model.neck(model.backbone(images))[0]
        torch.testing.assert_close(projected, online(images), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.head.predictor([projected])[0], pred(projected), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.momentum_encoder(images)[0], momentum(images), atol=1e-5, rtol=1e-5)


def test_momentum_encoder_continues_from_the_files_momentum_weights(tmp_path):
    online, momentum, pred = mocov3_encoder(seed=0), mocov3_encoder(seed=1), randomise(predictor(), 2)
    state_dict, layout, _ = read_model(mocov3_release(online, momentum, pred, 'module.'))
    assert layout == 'mocov3'
    model = build('mocov3_vit_nano.py')
    model.load_state_dict(state_dict, strict=True)

    ema = model.momentum_encoder
    before = {k: v.detach().clone() for k, v in ema.module.named_parameters()}
    source = nn.Sequential(model.backbone, model.neck)
    online_params = dict(source.named_parameters())
    max_iters = 1000
    info = MessageHub.get_current_instance().runtime_info
    saved = info.get('max_iters')
    info['max_iters'] = max_iters  # CosineEMA reads the schedule length from the message hub
    try:
        ema.update_parameters(source)
    finally:
        info.pop('max_iters') if saved is None else info.update(max_iters=saved)

    # CosineEMA at step 1: weight of the new value m = end - (end - m0) * (cos(pi * 1 / T) + 1) / 2
    m = ema.end_momentum - (ema.end_momentum - ema.momentum) * (math.cos(math.pi / max_iters) + 1) / 2
    assert 0 < m < 0.02
    moved = 0
    for name, param in ema.module.named_parameters():
        expected = (1 - m) * before[name] + m * online_params[name].detach()
        torch.testing.assert_close(param, expected, atol=1e-6, rtol=1e-5)
        if not torch.equal(before[name], online_params[name]):
            assert not torch.allclose(param, online_params[name]), f'{name} was replaced by the online weights'
            moved += 1
    assert moved == len(before)  # every momentum weight differs from the online one in this file
    assert ema.steps.item() == 2


def test_unknown_keys_of_a_release_are_named_not_dropped():
    """A key with no home (e.g. the Layer Grafted release's conditioned predictor gate) fails the strict check."""
    online, momentum, pred = mocov3_encoder(seed=0), mocov3_encoder(seed=1), randomise(predictor(), 2)
    checkpoint = mocov3_release(online, momentum, pred, 'module.')
    checkpoint['state_dict']['module.predictor.gate.weight'] = torch.zeros(4, 64)
    model = build('mocov3_vit_nano.py')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_model_checkpoint(model, checkpoint)
    assert err.value.unexpected == ['head.predictor.gate.weight'] and not err.value.missing
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_lgp_checkpoint_passes_through_unchanged():
    model = build('mocov3_vit_nano.py')
    own = {'meta': {'epoch': 1}, 'state_dict': model.state_dict()}
    state_dict, layout, dropped = read_model(own)
    assert layout == 'mmengine' and dropped == {}
    assert list(state_dict) == list(own['state_dict'])
    assert all(state_dict[k] is v for k, v in own['state_dict'].items())
