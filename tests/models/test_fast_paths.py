"""lgp.models.fast_paths, each against the plain computation it replaces (``fast_paths=False``): a block evaluated
for some tokens only, the CLS-only last encoder block, MAE's masked-only last decoder block, and MoCo v3's one pass
for both views."""

import copy
import sys
from pathlib import Path

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer

from lgp.models import LGPMAE, LGPMoCoV3, LGPViT
from lgp.models.backbones.vit import block_with_attn_bias
from lgp.models.fast_paths import has_standard_parts, partial_block

sys.path.insert(0, str(Path(__file__).parent / 'algorithms'))
from algorithm_helpers import model_cfg, views  # noqa: E402

B, N, D = 3, 10, 48


def block(**kwargs) -> TransformerEncoderLayer:
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(D, num_heads=3, feedforward_channels=4 * D, **kwargs)
    with torch.no_grad():
        for p in layer.parameters():  # away from the init (zero biases, unit norms, layer scale 1e-5 ...)
            p.add_(0.1 * torch.randn_like(p))
    return layer


@pytest.mark.parametrize('biased', [False, True], ids=['no_bias', 'attn_bias'])
@pytest.mark.parametrize('keep', [None, 'some'], ids=['cls', 'some_tokens'])
@pytest.mark.parametrize(
    'options', [{}, dict(layer_scale_init_value=0.1, drop_path_rate=0.3)], ids=['plain', 'layer_scale_drop_path']
)
def test_partial_block_is_the_full_block_at_the_kept_tokens(keep, options, biased):
    """Outputs and every gradient equal ``layer(x)`` gathered, in training mode (drop path draws the same numbers);
    with an attention bias R (heads, N, N), the plain biased block's, R's gradient included."""
    layer = block(**options).train()
    x = torch.randn(B, N, D, requires_grad=True)
    index = torch.tensor([[0, 4, 9], [3, 3, 1], [8, 2, 5]]) if keep == 'some' else torch.zeros(B, 1, dtype=torch.long)
    bias = torch.randn(3, N, N, requires_grad=True)
    inputs = [x, *layer.parameters(), *([bias] if biased else [])]
    torch.manual_seed(1)
    full = block_with_attn_bias(layer, x, bias) if biased else layer(x)
    expected = full.gather(1, index.unsqueeze(-1).expand(-1, -1, D))
    expected_grads = torch.autograd.grad(expected.square().sum(), inputs)
    rows = None
    if biased:  # R's rows of the kept queries: (heads, 1, N) for the CLS token, (B, heads, M, N) per sample
        rows = bias[:, :1] if keep is None else bias[:, index].transpose(0, 1)
    torch.manual_seed(1)
    actual = partial_block(layer, x, None if keep is None else index, rows)
    actual_grads = torch.autograd.grad(actual.square().sum(), inputs)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    for a, e in zip(actual_grads, expected_grads, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)


def test_only_standard_blocks_take_the_partial_path():
    assert has_standard_parts(block())
    assert not has_standard_parts(torch.nn.Linear(D, D))
    shortcut = block()
    shortcut.attn.v_shortcut = True
    assert not has_standard_parts(shortcut)


def fast_and_plain(model: torch.nn.Module, flag: str = 'fast_paths') -> tuple[torch.nn.Module, torch.nn.Module]:
    """``model`` and a copy with the fast paths off, moved away from the initialisation (zero biases ...)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    plain = copy.deepcopy(model)
    setattr(plain, flag, False)
    return model, plain


def assert_same_training(model, plain, loss_of, seed: int = 1, atol: float = 1e-6) -> None:
    """Equal losses and equal gradients of every trainable parameter, with the same random numbers (``atol``: of
    the gradients, for sums taken in another order)."""
    losses = []
    for m in (model, plain):
        torch.manual_seed(seed)
        loss = loss_of(m.train())
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(model.named_parameters(), plain.parameters(), strict=True):
        if p.requires_grad:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=atol, msg=name)


@pytest.mark.parametrize(
    'options, atol',
    [({}, 1e-6), (dict(pos_embed_type='none', rel_pos_bias=True, layer_scale_init_value=0.1), 1e-5)],
    ids=['plain', 'beit_style'],
)
def test_cls_token_only_last_block_trains_like_the_full_one(options, atol):
    """LGPViT(out_type='cls_token') skips the patch tokens of its last block: same CLS output, same gradients; in
    BEiT's style too (the CLS row of the shared relative position bias, layer scale), where the float32 rounding of
    the separate q and kv products moves a few small gradient entries by a little more than 1e-6 (``atol``)."""
    torch.manual_seed(0)
    backbone = LGPViT('nano', img_size=32, drop_path_rate=0.1, out_type='cls_token', **options)
    backbone.init_weights()
    model, plain = fast_and_plain(backbone)
    assert model.class_token_only_last_block and not plain.class_token_only_last_block
    images = torch.randn(B, 3, 32, 32)
    assert_same_training(model, plain, lambda m: m(images)[0].square().sum(), seed=2, atol=atol)
    if model.rel_pos_bias is not None:
        assert model.rel_pos_bias.relative_position_bias_table.grad.abs().sum() > 0
    model.out_indices = [2, 5]
    assert not model.class_token_only_last_block  # an intermediate output needs every token


def test_masked_only_decoding_trains_like_the_full_decoder():
    """LGPMAE's loss with the last decoder block, norm and prediction run for the masked patches only."""
    torch.manual_seed(0)
    mae = LGPMAE(**model_cfg('mae_vit_nano.py'))
    mae.init_weights()
    model, plain = fast_and_plain(mae)
    images = torch.randn(4, 3, 32, 32)
    assert_same_training(model, plain, lambda m: m.loss(images, None)['loss'])


def test_one_pass_for_both_views_trains_like_one_pass_per_view():
    """LGPMoCoV3's symmetric loss with both views as one batch: same loss, gradients and momentum encoder."""
    MessageHub.get_current_instance().update_info('max_iters', 100)
    torch.manual_seed(0)
    mocov3 = LGPMoCoV3(**model_cfg('mocov3_vit_nano.py'))
    mocov3.init_weights()
    model, plain = fast_and_plain(mocov3)
    view_1, view_2 = views(2)
    for step in range(2):  # the first update copies the online weights, the second averages
        # the BatchNorms of the projector and predictor amplify the rounding of the batched matrix products
        assert_same_training(model, plain, lambda m: m.contrastive_loss(view_1, view_2), seed=step, atol=5e-5)
        momentum = dict(plain.momentum_encoder.state_dict())
        for name, value in model.momentum_encoder.state_dict().items():
            torch.testing.assert_close(value, momentum[name], rtol=1e-5, atol=1e-6, msg=name)
        for m in (model, plain):
            m.zero_grad()
