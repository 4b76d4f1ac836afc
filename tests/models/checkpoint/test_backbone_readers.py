"""Backbone readers (lgp.models.checkpoint: read_backbone, load_backbone_checkpoint, lgp_to_timm) against independent
references: timm's ViT and mmpretrain's VisionTransformer; the backbone converter tools.

Whole-model readers: test_full_model_readers.py; all-or-nothing loading: test_atomic_loading.py; init_cfg forms:
test_init_cfg_forms.py.
"""

import pytest
import torch
from mmpretrain.models.backbones import VisionTransformer as MMPretrainViT
from timm.models.vision_transformer import VisionTransformer as TimmViT

from lgp.models import LGPViT
from lgp.models.checkpoint import CheckpointMismatchError, lgp_to_timm, load_backbone_checkpoint, read_backbone

IMG, D = 32, 48
NANO = dict(embed_dims=D, num_layers=6, num_heads=3, feedforward_channels=192)


def make_timm(seed: int = 0) -> TimmViT:
    torch.manual_seed(seed)
    model = TimmViT(img_size=IMG, patch_size=4, embed_dim=D, depth=6, num_heads=3, mlp_ratio=4, num_classes=0)
    for p in model.parameters():  # timm zero-inits biases and cls_token; randomise everything
        torch.nn.init.normal_(p, std=0.2)
    return model.eval()


def make_lgp(**kwargs) -> LGPViT:
    model = LGPViT('nano', img_size=IMG, **kwargs)
    model.eval()
    return model


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(3, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))


def mae_release(timm_model: TimmViT) -> dict:
    """The official MAE release layout: timm keys under 'model', plus the decoder."""
    decoder = {
        'mask_token': torch.zeros(1, 1, 32),
        'decoder_embed.weight': torch.zeros(32, D),
        'decoder_blocks.0.attn.qkv.weight': torch.zeros(96, 32),
        'decoder_pred.bias': torch.zeros(48),
    }
    return {'model': {**timm_model.state_dict(), **decoder}}


def mocov3_release(online: TimmViT, momentum: TimmViT) -> dict:
    """The official MoCo v3 / original Layer Grafted layout, with the extras those files carry."""
    state_dict = {}
    for prefix, model in (('module.base_encoder.', online), ('module.momentum_encoder.', momentum)):
        state_dict.update({prefix + k: v for k, v in model.state_dict().items()})
        state_dict[prefix + 'head.0.weight'] = torch.zeros(64, D)  # projector
    state_dict['module.predictor.0.weight'] = torch.zeros(64, 16)
    return {'epoch': 300, 'arch': 'vit_base', 'state_dict': state_dict, 'optimizer': {'state': {}, 'param_groups': []}}


def test_official_mae_checkpoint_gives_timm_features(tmp_path, images):
    reference = make_timm()
    path = tmp_path / 'mae_pretrain_vit_nano.pth'
    torch.save(mae_release(reference), path)
    model = make_lgp()
    dropped = load_backbone_checkpoint(model, path)
    assert dropped == {
        'MAE decoder (not part of the encoder)': [
            'mask_token',
            'decoder_embed.weight',
            'decoder_blocks.0.attn.qkv.weight',
            'decoder_pred.bias',
        ]
    }
    with torch.no_grad():
        expected = reference.forward_features(images)
        torch.testing.assert_close(model(images)[0], expected[:, 0], atol=1e-5, rtol=1e-5)
        model.out_type = 'raw'
        torch.testing.assert_close(model(images)[0], expected, atol=1e-5, rtol=1e-5)


def test_round_trip_lgp_timm_lgp(images):
    model = make_lgp()
    model.init_weights()
    timm_model = make_timm(seed=5)
    timm_model.load_state_dict(lgp_to_timm(model.state_dict()), strict=True)
    back = make_lgp()
    load_backbone_checkpoint(back, {'state_dict': timm_model.state_dict()}, source='timm')
    for key, value in model.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    with torch.no_grad():
        torch.testing.assert_close(timm_model.forward_features(images)[:, 0], model(images)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('encoder', ['online', 'momentum'])
def test_mocov3_and_layer_grafted_release(tmp_path, images, encoder):
    online, momentum = make_timm(seed=1), make_timm(seed=2)
    path = tmp_path / 'checkpoint_final.pth.tar'
    torch.save(mocov3_release(online, momentum), path)
    model = make_lgp()
    dropped = load_backbone_checkpoint(model, path, encoder=encoder)
    reason = 'MoCo v3 projector (head.*) of the encoder'
    assert dropped[reason] == ['head.0.weight']
    other = next(keys for r, keys in dropped.items() if r != reason)
    assert 'module.predictor.0.weight' in other
    reference = online if encoder == 'online' else momentum
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], reference.forward_features(images)[:, 0], atol=1e-5, rtol=1e-5)


def test_mmpretrain_checkpoint(images):
    torch.manual_seed(3)
    reference = MMPretrainViT(arch=NANO, img_size=IMG, patch_size=4)
    reference.init_weights()
    reference.eval()
    checkpoint = {
        'meta': {},
        'state_dict': {
            **{'backbone.' + k: v for k, v in reference.state_dict().items()},
            'neck.decoder_embed.weight': torch.zeros(4, 4),
        },
    }
    model = make_lgp()
    dropped = load_backbone_checkpoint(model, checkpoint)
    assert list(dropped.values()) == [['neck.decoder_embed.weight']]
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], reference(images)[0])


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state_dict = make_timm().state_dict()
    del state_dict['blocks.3.mlp.fc1.weight']
    state_dict['blocks.3.mlp.gate.weight'] = torch.zeros(3)
    path = tmp_path / 'broken.pth'
    torch.save({'model': state_dict}, path)
    model = make_lgp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_backbone_checkpoint(model, path)
    assert err.value.missing == ['layers.3.ffn.layers.0.0.weight']
    assert err.value.unexpected == ['blocks.3.mlp.gate.weight']
    assert 'layers.3.ffn.layers.0.0.weight' in str(err.value) and 'Nothing was loaded' in str(err.value)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_checkpoint_of_another_arch_lists_shapes():
    other = LGPViT(dict(NANO, embed_dims=96, feedforward_channels=384), img_size=IMG)
    with pytest.raises(
        CheckpointMismatchError,
        match=r'shape of layers.0.attn.qkv.weight: checkpoint \(288, 96\) '
        r'vs model \(144, 48\)',
    ):
        load_backbone_checkpoint(make_lgp(), {'state_dict': other.state_dict()})


def test_pretrained_init_cfg_loads_strictly(tmp_path, images):
    reference = make_timm()
    path = tmp_path / 'mae.pth'
    torch.save(mae_release(reference), path)
    model = make_lgp(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    with torch.no_grad():
        torch.testing.assert_close(model(images)[0], reference.forward_features(images)[:, 0], atol=1e-5, rtol=1e-5)
    path_bad = tmp_path / 'bad.pth'
    torch.save({'model': {'blocks.0.norm1.weight': torch.ones(D)}}, path_bad)
    with pytest.raises(CheckpointMismatchError):
        make_lgp(init_cfg=dict(type='Pretrained', checkpoint=str(path_bad))).init_weights()


def test_converter_tools(tmp_path, images, run_tool):
    """MAE release -> backbone-only file (for mmseg / init_cfg) -> timm state dict, features unchanged."""
    reference = make_timm()
    src, backbone_file, timm_file = tmp_path / 'mae.pth', tmp_path / 'backbone.pth', tmp_path / 'timm.pth'
    torch.save(mae_release(reference), src)
    converter = ['tools/model_converters/to_lgp_backbone.py', str(src), str(backbone_file)]
    out = run_tool([*converter, '--arch', 'nano', '--img-size', str(IMG)]).stdout
    assert 'dropped 4 keys: MAE decoder' in out and 'every key and shape matches' in out
    backbone, layout, dropped = read_backbone(backbone_file)
    assert layout == 'backbone' and not dropped
    run_tool(['tools/model_converters/lgp_to_timm.py', str(backbone_file), str(timm_file)])
    exported = make_timm(seed=9)
    exported.load_state_dict(torch.load(timm_file, weights_only=True), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(exported.forward_features(images), reference.forward_features(images))


def test_global_pool_backbone_leaves_the_final_norm_out_and_keeps_its_new_norm(tmp_path, images):
    """MAE's global-pool fine-tuning (timm's ``global_pool='avg'`` without its final norm, ``fc_norm`` new): the pooled
    features of an lgp backbone with ``out_type='avg_featmap', final_norm=False`` loaded from the same weights equal
    timm's with its ``fc_norm`` at the same (fresh) values; anything else missing is still an error."""
    timm_model = make_timm()
    pooled = make_lgp(out_type='avg_featmap', final_norm=False)
    fresh_norm = {k: v.clone() for k, v in pooled.ln2.state_dict().items()}
    dropped = load_backbone_checkpoint(pooled, mae_release(timm_model))
    assert {k: torch.equal(v, fresh_norm[k]) for k, v in pooled.ln2.state_dict().items()} == {
        'weight': True,
        'bias': True,
    }
    assert sorted(k for keys in dropped.values() for k in keys if k.startswith(('ln', 'norm'))) == [
        'ln1.bias',
        'ln1.weight',
        'ln2.bias',
        'ln2.weight',
    ]
    reference = TimmViT(
        img_size=IMG, patch_size=4, embed_dim=D, depth=6, num_heads=3, num_classes=0, global_pool='avg', fc_norm=True
    ).eval()
    weights = {k: v for k, v in timm_model.state_dict().items() if not k.startswith('norm.')}  # no final norm here
    reference.load_state_dict({**weights, **{f'fc_norm.{k}': v for k, v in fresh_norm.items()}})
    torch.testing.assert_close(pooled(images)[0], reference(images), atol=1e-5, rtol=1e-5)
    broken = mae_release(timm_model)
    del broken['model']['blocks.2.mlp.fc1.weight']
    with pytest.raises(CheckpointMismatchError, match=r'layers\.2\.ffn\.layers\.0\.0\.weight'):
        load_backbone_checkpoint(make_lgp(out_type='avg_featmap', final_norm=False), broken)


def test_relative_position_bias_table_of_another_grid_loads_strictly_resampled(tmp_path):
    """A BEiT-style 32 px (8 x 8) backbone file loads strictly into a 64 px (16 x 16) one, its shared relative position
    bias table resampled as mmpretrain's BEiTViT does (lgp's port, tested against it in test_vit_relative_position.py)
    and everything else as it is; a table for another number of heads, or for no square grid, is still refused."""
    from lgp.models.backbones.vit import resize_rel_pos_bias_table
    from lgp.models.checkpoint.loading import resizable_rel_pos_tables

    beit_style = dict(pos_embed_type='none', rel_pos_bias=True, layer_scale_init_value=0.1)
    table = 'rel_pos_bias.relative_position_bias_table'
    torch.manual_seed(0)
    small = make_lgp(**beit_style)
    with torch.no_grad():
        small.rel_pos_bias.relative_position_bias_table.normal_()
    path = tmp_path / 'conmim_nano.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in small.state_dict().items()}}, path)
    large = LGPViT('nano', img_size=2 * IMG, init_cfg=dict(type='Pretrained', checkpoint=str(path)), **beit_style)
    large.init_weights()
    expected = resize_rel_pos_bias_table(small.state_dict()[table], (8, 8), (16, 16))
    assert large.state_dict()[table].shape == (31 * 31 + 3, 3)
    torch.testing.assert_close(large.state_dict()[table], expected)
    for key, value in small.state_dict().items():
        if key != table:
            assert torch.equal(large.state_dict()[key], value), key

    four_heads = LGPViT(dict(NANO, num_heads=4, patch_size=4), img_size=IMG, **beit_style).state_dict()
    assert resizable_rel_pos_tables(large, four_heads) == set()
    with pytest.raises(CheckpointMismatchError, match=r'shape of rel_pos_bias.relative_position_bias_table: '):
        load_backbone_checkpoint(large, {'state_dict': four_heads})
    not_square = {**small.state_dict(), table: torch.zeros(15 * 13 + 3, 3)}  # an 8 x 7 grid's
    assert resizable_rel_pos_tables(large, not_square) == set()
    with pytest.raises(CheckpointMismatchError, match=r'checkpoint \(198, 3\) vs model \(964, 3\)'):
        load_backbone_checkpoint(large, {'state_dict': not_square})
    assert resizable_rel_pos_tables(large, small.state_dict()) == {table}
    assert resizable_rel_pos_tables(make_lgp(), small.state_dict()) == set()  # no shared bias: no exemption
