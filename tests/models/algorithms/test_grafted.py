"""Layer Grafted Pre-training, step 2 (lgp.models.algorithms.grafted): the graft from step 1, an encoder assembled
from two checkpoints by block range, the lower part at a small lr or frozen, and the L1 pull."""

import copy

import pytest
import torch
from algorithm_helpers import model_cfg, train_steps, views

from lgp.models import LGPViT
from lgp.models.algorithms import GraftedMoCoV3, graft_encoder
from lgp.models.checkpoint import CheckpointMismatchError

D = 48  # width of the nano backbone


def saved_backbone(path, seed: int) -> dict[str, torch.Tensor]:
    """A random nano backbone saved at ``path`` as an lgp checkpoint; its state dict."""
    torch.manual_seed(seed)
    backbone = LGPViT('nano', img_size=32)
    backbone.init_weights()
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    torch.save({'state_dict': {'backbone.' + k: v for k, v in state.items()}}, path)
    return state


@pytest.fixture
def step1(tmp_path) -> tuple[str, dict[str, torch.Tensor]]:
    path = tmp_path / 'mae.pth'
    return str(path), saved_backbone(path, seed=7)


def grafted(checkpoint: str, **kwargs) -> GraftedMoCoV3:
    """The nano graft (configs/_base_/models/grafted_vit_nano.py: lower 4 of 6 blocks) from ``checkpoint``."""
    return GraftedMoCoV3(**model_cfg('grafted_vit_nano.py', step1=dict(checkpoint=checkpoint), **kwargs))


def test_momentum_encoder_starts_at_the_step1_weights(step1):
    path, state = step1
    torch.manual_seed(0)
    model = grafted(path)
    model.init_weights()
    for name, value in state.items():
        assert torch.equal(model.backbone.state_dict()[name], value), name
    train_steps(model, views(2), steps=1)
    momentum_backbone = model.momentum_encoder.module[0].state_dict()
    for name, value in state.items():
        assert torch.equal(momentum_backbone[name], value), name  # copied at step 0, before the first update
    assert not torch.equal(model.backbone.layers[0].attn.qkv.weight, state['layers.0.attn.qkv.weight'])
    assert torch.equal(model.backbone.patch_embed.projection.weight, state['patch_embed.projection.weight'])


def test_lower_blocks_and_cls_token_at_the_lower_lr():
    model = grafted('unused.pth')
    assert model.block_lr_groups == [dict(blocks=(0, 4), lr_mult=0.1), dict(blocks=(4, 6), lr_mult=1.0)]
    assert grafted('unused.pth', lower_lr_mult=0.0).block_lr_groups is None  # frozen: nothing left to scale


def test_lower_lr_mult_zero_freezes_the_lower_part(step1):
    """MIM -> CL grafting with the lower layers fixed: the embeddings and blocks 0-3 never move, in eval mode."""
    path, state = step1
    torch.manual_seed(0)
    model = grafted(path, lower_lr_mult=0.0)
    model.init_weights()
    train_steps(model, views(2), steps=2)
    after = model.backbone.state_dict()
    for name, param in model.backbone.named_parameters():
        frozen = model.backbone.layer_id(name) <= 4  # the embeddings and blocks 0-3
        assert torch.equal(state[name], after[name]) == frozen, name
        assert param.requires_grad == (not frozen), name
    assert not model.backbone.layers[0].training and model.backbone.layers[5].training


def test_l1_pull_toward_the_step1_weights(step1):
    path, _ = step1
    model = grafted(path, anchor_weight=1e-2, anchor_blocks=4)
    model.init_weights()
    anchored = set(model.anchored_parameters())
    assert 'cls_token' in anchored and 'layers.3.ln2.bias' in anchored
    assert not anchored & {'pos_embed', 'patch_embed.projection.weight', 'layers.4.ln1.weight', 'ln1.weight'}
    assert model.anchor_distance().item() == 0.0
    with torch.no_grad():
        model.backbone.layers[1].ln1.weight.add_(0.5)
    expected = 0.5 * D  # sum |theta - theta_1| over one LayerNorm weight of D entries
    torch.testing.assert_close(model.anchor_distance(), torch.tensor(expected))
    losses = model.loss([255 * v for v in views(2)], None)
    torch.testing.assert_close(losses['loss_anchor'], torch.tensor(1e-2 * expected))
    restored = grafted('unused.pth', anchor_weight=1e-2, anchor_blocks=4)
    restored.load_state_dict(model.state_dict(), strict=True)  # theta_1 travels with the checkpoint
    torch.testing.assert_close(restored.anchor_distance(), torch.tensor(expected))


def test_encoder_assembled_from_two_checkpoints_by_block_range(tmp_path):
    """Embeddings and blocks 0-3 from the MIM file, blocks 4-5 and the final norm from the CL file, strictly."""
    mim, cl = tmp_path / 'mim.pth', tmp_path / 'cl.pth'
    mim_state, cl_state = saved_backbone(mim, seed=1), saved_backbone(cl, seed=2)
    backbone = LGPViT('nano', img_size=32)
    parts = [
        dict(checkpoint=str(mim), blocks=(0, 4), final_norm=False),
        dict(checkpoint=str(cl), blocks=(4, 6), embeddings=False),
    ]
    origin = graft_encoder(backbone, parts)
    for name, value in backbone.state_dict().items():
        source = mim_state if backbone.layer_id(name) <= 4 else cl_state
        assert torch.equal(value, source[name]), name
    assert list(origin) == ['embeddings', *(f'block {i}' for i in range(6)), 'final norm']
    assert origin['block 3'].startswith(str(mim)) and origin['block 4'].startswith(str(cl))
    assert origin['embeddings'].startswith(str(mim)) and origin['final norm'].startswith(str(cl))


@pytest.mark.parametrize(
    'parts, error',
    [
        ([dict(blocks=(0, 4), final_norm=False), dict(blocks=(3, 6), embeddings=False)], 'already takes'),
        ([dict(blocks=(0, 4), final_norm=False), dict(blocks=(5, 6), embeddings=False)], 'no checkpoint for'),
        ([dict(blocks=(0, 7))], 'not a range within the 6 blocks'),
        ([dict(blocks=(0, 6), layers=3)], 'must be dict(checkpoint=PATH'),
    ],
    ids=['overlap', 'gap', 'out-of-range', 'unknown-key'],
)
def test_parts_that_do_not_cover_the_encoder_once_are_refused(parts, error, step1):
    path, _ = step1
    backbone = LGPViT('nano', img_size=32)
    before = copy.deepcopy(backbone.state_dict())
    with pytest.raises(ValueError, match=error.replace('(', r'\(')):
        graft_encoder(backbone, [dict(part, checkpoint=path) for part in parts])
    assert all(torch.equal(v, before[k]) for k, v in backbone.state_dict().items())


def test_a_checkpoint_that_does_not_fit_loads_nothing(step1, tmp_path):
    path, _ = step1
    wide = LGPViT(dict(embed_dims=96, num_layers=6, num_heads=3, feedforward_channels=192), img_size=32)
    torch.save({'state_dict': {'backbone.' + k: v for k, v in wide.state_dict().items()}}, tmp_path / 'wide.pth')
    backbone = LGPViT('nano', img_size=32)
    before = copy.deepcopy(backbone.state_dict())
    parts = [
        dict(checkpoint=path, blocks=(0, 4), final_norm=False),
        dict(checkpoint=str(tmp_path / 'wide.pth'), blocks=(4, 6), embeddings=False),
    ]
    with pytest.raises(CheckpointMismatchError, match='layers.4'):
        graft_encoder(backbone, parts)
    assert all(torch.equal(v, before[k]) for k, v in backbone.state_dict().items())


def test_a_backbone_init_cfg_is_refused():
    backbone = dict(model_cfg('grafted_vit_nano.py')['backbone'], init_cfg=dict(type='Pretrained', checkpoint='x'))
    with pytest.raises(ValueError, match='remove the backbone init_cfg'):
        grafted('unused.pth', backbone=backbone)
