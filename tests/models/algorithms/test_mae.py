"""lgp's MAE against mmpretrain's, and its decoder's initialisation against MAE's rules."""

import pytest
import torch
from algorithm_helpers import REPO
from mmengine.config import Config
from mmpretrain.models.selfsup import MAE as MMPretrainMAE
from mmpretrain.models.selfsup import MAEViT
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS


def build(name: str, fast_paths: bool = True) -> torch.nn.Module:
    cfg = Config.fromfile(REPO / 'configs' / '_base_' / 'models' / name).model.to_dict()
    return MODELS.build(dict(cfg, fast_paths=fast_paths))


def test_mae_loss_matches_mmpretrain_mae():
    """lgp's MAE (and its masked-only last decoder block) against mmpretrain's MAE + MAEViT, same weights and masks."""
    cfg = Config.fromfile(REPO / 'configs' / '_base_' / 'models' / 'mae_vit_nano.py').model.to_dict()
    torch.manual_seed(0)
    lgp_model = MODELS.build(cfg)
    lgp_model.init_weights()
    arch = dict(embed_dims=48, num_layers=6, num_heads=3, feedforward_channels=192)
    backbone = dict(type=MAEViT, arch=arch, img_size=32, patch_size=4, mask_ratio=0.75)
    reference = MODELS.build(dict(cfg, type=MMPretrainMAE, backbone=backbone))
    with torch.no_grad():
        for p in lgp_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    reference.load_state_dict(lgp_model.state_dict())
    images = torch.randn(4, 3, 32, 32)
    losses = []
    for model in (lgp_model, reference):
        torch.manual_seed(1)  # the same random masks
        loss = model.loss(images, None)['loss']
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=0)
    ref_params = dict(reference.named_parameters())
    for name, p in lgp_model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, ref_params[name].grad, rtol=1e-4, atol=1e-7, msg=name)


def init_rule(name: str, value: torch.Tensor, decoder: torch.nn.Module) -> str:
    """Which of MAE's initialisation rules a decoder tensor follows, read from its values alone."""
    if name == 'decoder_pos_embed':
        sincos = build_2d_sincos_position_embedding(int(decoder.num_patches**0.5), value.shape[-1], cls_token=True)
        return 'sin-cos' if torch.equal(value, sincos) else 'other'
    if name == 'mask_token':
        return 'N(0, 0.02)' if 0.01 < value.std().item() < 0.03 and value.abs().max() < 0.2 else 'other'
    if torch.all(value == 0):
        return 'zeros'
    if torch.all(value == 1):
        return 'ones'
    fan_out, fan_in = value.shape
    bound = (6 / (fan_in + fan_out)) ** 0.5  # xavier-uniform: U(-bound, bound), std bound / sqrt(3)
    uniform = value.abs().max() <= bound and abs(value.std().item() / (bound / 3**0.5) - 1) < 0.1
    return 'xavier-uniform' if uniform else 'other'


def expected_rules(decoder: torch.nn.Module) -> dict[str, str]:
    """MAE's rules for every decoder tensor: xavier-uniform linear weights, zero biases, unit LayerNorms, the sin-cos
    position embedding and an N(0, 0.02) mask token."""
    rules = {'decoder_pos_embed': 'sin-cos', 'mask_token': 'N(0, 0.02)'}
    for prefix, module in decoder.named_modules():
        if isinstance(module, torch.nn.Linear):
            rules[f'{prefix}.weight'] = 'xavier-uniform'
        elif isinstance(module, torch.nn.LayerNorm):
            rules[f'{prefix}.weight'] = 'ones'
        else:
            continue
        if module.bias is not None:
            rules[f'{prefix}.bias'] = 'zeros'
    return rules


@pytest.mark.parametrize('config, decoder', [('mae_vit_nano.py', 'neck'), ('mtl_vit_nano.py', 'mim_neck')])
def test_decoder_is_initialised_as_mae(config, decoder):
    """MAE's decoder and the MTL baseline's get the same initialisation, rule by rule (:func:`expected_rules`)."""
    torch.manual_seed(0)
    model = build(config)
    model.init_weights()
    module = getattr(model, decoder)
    rules = expected_rules(module)
    assert set(rules) == {name for name, _ in module.named_parameters()}
    for name, value in module.state_dict().items():
        assert init_rule(name, value, module) == rules[name], name
