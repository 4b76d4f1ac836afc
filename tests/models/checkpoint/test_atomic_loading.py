"""All-or-nothing loading: a checkpoint that does not fit leaves every tensor of the model as it was.

Only a ``pos_embed`` that mmpretrain's ``VisionTransformer`` resizes in its load hook may have another shape, and only
when that resize succeeds (same width, a square number of patch tokens after the extra tokens).
"""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from lgp.models import LGPViT
from lgp.models.checkpoint import (
    CheckpointMismatchError,
    check_state_dict,
    load_model_checkpoint,
    resizable_pos_embeds,
)

REPO = Path(__file__).resolve().parents[3]
MAE_NANO = REPO / 'configs' / '_base_' / 'models' / 'mae_vit_nano.py'


def build_mae(seed: int) -> torch.nn.Module:
    """The nano MAE model of the config, every tensor random (seeded) so that any copy shows."""
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(MAE_NANO).model)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.normal_()
    return model


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert list(after) == list(before)
    changed = [k for k, v in before.items() if not torch.equal(after[k], v)]
    assert not changed, f'tensors changed by a failed load: {changed}'


def save(tmp_path: Path, state_dict: dict[str, torch.Tensor]) -> Path:
    path = tmp_path / 'checkpoint.pth'
    torch.save({'meta': {}, 'state_dict': state_dict}, path)
    return path


def test_decoder_pos_embed_of_another_length_loads_nothing(tmp_path):
    model, source = build_mae(seed=0), build_mae(seed=1)
    state_dict = source.state_dict()
    state_dict['neck.decoder_pos_embed'] = torch.randn(1, 50, 64)  # the decoder cannot resize its position embedding
    before = snapshot(model)
    with pytest.raises(CheckpointMismatchError) as err:
        load_model_checkpoint(model, save(tmp_path, state_dict))
    assert [name for name, *_ in err.value.mismatched] == ['neck.decoder_pos_embed']
    assert 'shape of neck.decoder_pos_embed: checkpoint (1, 50, 64) vs model (1, 65, 64)' in str(err.value)
    assert_unchanged(model, before)


def test_backbone_pos_embed_for_another_image_size_is_resized(tmp_path):
    model, source = build_mae(seed=0), build_mae(seed=1)
    state_dict = source.state_dict()
    state_dict['backbone.pos_embed'] = torch.randn(1, 1 + 12 * 12, 48)  # 48 px images, patch 4
    load_model_checkpoint(model, save(tmp_path, state_dict))
    expected = resize_pos_embed(state_dict['backbone.pos_embed'], (12, 12), (8, 8), 'bicubic', 1)
    torch.testing.assert_close(model.backbone.pos_embed.data, expected)
    for key, value in state_dict.items():
        if key != 'backbone.pos_embed':
            assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize(
    'shape, reason',
    [((1, 65, 32), 'another width'), ((1, 1 + 50, 48), 'patch tokens not a square'), ((65, 48), 'not (1, L, D)')],
)
def test_backbone_pos_embed_that_cannot_be_resized_is_refused(tmp_path, shape, reason):
    model, source = build_mae(seed=0), build_mae(seed=1)
    state_dict = source.state_dict()
    state_dict['backbone.pos_embed'] = torch.randn(shape)
    before = snapshot(model)
    with pytest.raises(CheckpointMismatchError) as err:
        load_model_checkpoint(model, save(tmp_path, state_dict))
    assert [name for name, *_ in err.value.mismatched] == ['backbone.pos_embed'], reason
    assert_unchanged(model, before)


def test_every_offending_key_is_named_and_nothing_is_copied(tmp_path):
    model, source = build_mae(seed=0), build_mae(seed=1)
    state_dict = source.state_dict()
    del state_dict['backbone.layers.2.ln1.bias']
    state_dict['neck.extra.weight'] = torch.zeros(3)
    state_dict['neck.decoder_pred.weight'] = torch.zeros(5, 64)
    state_dict['neck.decoder_pos_embed'] = torch.zeros(1, 17, 64)
    before = snapshot(model)
    with pytest.raises(CheckpointMismatchError) as err:
        load_model_checkpoint(model, save(tmp_path, state_dict))
    assert err.value.missing == ['backbone.layers.2.ln1.bias']
    assert err.value.unexpected == ['neck.extra.weight']
    assert [name for name, *_ in err.value.mismatched] == ['neck.decoder_pos_embed', 'neck.decoder_pred.weight']
    assert_unchanged(model, before)


def test_resizable_pos_embeds_are_found_from_the_models_own_vits():
    """Each mmpretrain ViT of the model, at any depth (the momentum backbone too); never the decoder's or a neck's."""
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(REPO / 'configs' / '_base_' / 'models' / 'mocov3_vit_nano.py').model)
    state_dict = model.state_dict()
    for key in ('backbone.pos_embed', 'momentum_encoder.module.0.pos_embed'):
        state_dict[key] = torch.randn(1, 1 + 12 * 12, 48)
    state_dict['neck.fc0.weight'] = torch.randn(128, 49)
    assert resizable_pos_embeds(model, state_dict) == {'backbone.pos_embed', 'momentum_encoder.module.0.pos_embed'}
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict(model, state_dict)
    assert [name for name, *_ in err.value.mismatched] == ['neck.fc0.weight']


def test_resize_check_agrees_with_the_load_hook_for_a_vit_without_cls_token():
    """Without CLS token (no extra tokens) the hook drops a CLS entry only at the model's own size, else resizes."""
    model = LGPViT('nano', img_size=32, with_cls_token=False, out_type='avg_featmap')
    assert model.pos_embed.shape == (1, 64, 48)
    for length, resizes in ((1 + 64, True), (144, True), (1 + 144, False), (50, False)):
        state_dict = {**model.state_dict(), 'pos_embed': torch.randn(1, length, 48)}
        assert resizable_pos_embeds(model, state_dict) == ({'pos_embed'} if resizes else set()), length
        if resizes:
            check_state_dict(model, state_dict)
            model.load_state_dict(state_dict, strict=True)  # the hook's own resize succeeds
        else:
            with pytest.raises(CheckpointMismatchError):
                check_state_dict(model, state_dict)
            with pytest.raises(AssertionError):  # what the hook would have done
                model.load_state_dict(state_dict, strict=True)
