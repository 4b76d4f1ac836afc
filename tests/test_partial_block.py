"""Blocks evaluated for some tokens only: the CLS-only last encoder block (MoCo v3, linear probing) and the
masked-only last decoder block (MAE), each against the full computation and against mmpretrain's own models."""

import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.selfsup import MAE as MMPretrainMAE
from mmpretrain.models.selfsup import MAEViT
from mmpretrain.registry import MODELS

from lgp.models import LGPViT
from lgp.models.utils import has_standard_parts, partial_block

REPO = Path(__file__).resolve().parents[1]
B, N, D = 3, 10, 48


def block(**kwargs) -> TransformerEncoderLayer:
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(D, num_heads=3, feedforward_channels=4 * D, **kwargs)
    with torch.no_grad():
        for p in layer.parameters():  # away from the init (zero biases, unit norms, layer scale 1e-5 ...)
            p.add_(0.1 * torch.randn_like(p))
    return layer


@pytest.mark.parametrize('keep', [None, 'some'], ids=['cls', 'some_tokens'])
@pytest.mark.parametrize(
    'options', [{}, dict(layer_scale_init_value=0.1, drop_path_rate=0.3)], ids=['plain', 'layer_scale_drop_path']
)
def test_partial_block_is_the_full_block_at_the_kept_tokens(keep, options):
    """Outputs and every gradient equal ``layer(x)`` gathered, in training mode (drop path draws the same numbers)."""
    layer = block(**options).train()
    x = torch.randn(B, N, D, requires_grad=True)
    index = torch.tensor([[0, 4, 9], [3, 3, 1], [8, 2, 5]]) if keep == 'some' else torch.zeros(B, 1, dtype=torch.long)
    torch.manual_seed(1)
    expected = layer(x).gather(1, index.unsqueeze(-1).expand(-1, -1, D))
    expected_grads = torch.autograd.grad(expected.square().sum(), [x, *layer.parameters()])
    torch.manual_seed(1)
    actual = partial_block(layer, x, None if keep is None else index)
    actual_grads = torch.autograd.grad(actual.square().sum(), [x, *layer.parameters()])
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    for a, e in zip(actual_grads, expected_grads, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)


def test_only_standard_blocks_take_the_partial_path():
    assert has_standard_parts(block())
    assert not has_standard_parts(torch.nn.Linear(D, D))
    shortcut = block()
    shortcut.attn.v_shortcut = True
    assert not has_standard_parts(shortcut)


def test_cls_token_output_trains_like_the_full_last_block():
    """LGPViT(out_type='cls_token') skips the patch tokens of its last block: same CLS output, same gradients."""
    torch.manual_seed(0)
    model = LGPViT('nano', img_size=32, drop_path_rate=0.1)
    model.init_weights()
    full = copy.deepcopy(model)
    full.out_type = 'raw'
    assert model.class_token_only_last_block and not full.class_token_only_last_block
    images = torch.randn(B, 3, 32, 32)
    outputs = []
    for m in (model, full):
        torch.manual_seed(2)
        (out,) = m.train()(images)
        out = out if m is model else out[:, 0]
        out.square().sum().backward()
        outputs.append(out)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(model.named_parameters(), full.parameters(), strict=True):
        if p.requires_grad:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)
    model.out_indices = [2, 5]
    assert not model.class_token_only_last_block  # an intermediate output needs every token


def test_mae_loss_matches_mmpretrain_mae():
    """lgp's MAE (masked-only last decoder block) against mmpretrain's MAE + MAEViT with the same weights and masks."""
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
