"""ConMIM (lgp.models.algorithms.conmim): the patch-level loss against a hand computation, the instance-level ablation,
the slow model (no gradient, cosine momentum), each ablation switch, the ViT-B config's parameter counts against the
architecture's formulas, and the transfer of its encoder to every protocol, segmentation and grafting."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from algorithm_helpers import REPO, model_cfg, pooled_keys, protocol_backbone, views
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from nano_checkpoints import save_nano

from lgp.engine import load_config
from lgp.models import ConMIM
from lgp.models.algorithms.conmim import instance_contrast, patch_contrast

TAU = 0.1
GRID = 8  # the nano encoder's 8 x 8 patches


def build(**overrides) -> ConMIM:
    torch.manual_seed(0)
    model = ConMIM(**model_cfg('conmim_vit_nano.py', **overrides))
    model.init_weights()
    return model


def masks(batch: int, seed: int = 0, masked: int = 24) -> torch.Tensor:
    """(batch, 8, 8) bool masks with ``masked`` patches each, at random places."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(batch, GRID * GRID, generator=g)
    chosen = scores.argsort(dim=1)[:, :masked]
    return torch.zeros(batch, GRID * GRID, dtype=torch.bool).scatter(1, chosen, True).view(batch, GRID, GRID)


def samples(mask: torch.Tensor) -> list[DataSample]:
    """Data samples as PackInputs makes them: each with its (8, 8) 0 / 1 int64 mask."""
    return [DataSample().set_mask(m.long()) for m in mask]


def test_patch_contrast_equals_a_hand_computation():
    """Per masked position (i, j): -log softmax_k(q_ij . k_ik / tau) at k = j; unmasked positions do not count."""
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(2, 4, 3, generator=g), dim=-1)
    k = F.normalize(torch.randn(2, 4, 3, generator=g), dim=-1)
    mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
    terms = []
    for i in range(2):
        for j in range(4):
            if mask[i, j]:
                logits = [sum(q[i, j, c] * k[i, m, c] for c in range(3)) / TAU for m in range(4)]
                terms.append(-(logits[j] - math.log(sum(math.exp(x) for x in logits))))
    torch.testing.assert_close(patch_contrast(q, k, mask, TAU), torch.tensor(sum(terms) / len(terms)))
    # the unmasked positions' queries do not matter
    q_changed = q.clone()
    q_changed[~mask] = F.normalize(torch.randn(int((~mask).sum()), 3, generator=g), dim=-1)
    torch.testing.assert_close(patch_contrast(q_changed, k, mask, TAU), patch_contrast(q, k, mask, TAU))


def test_instance_contrast_equals_a_hand_computation():
    g = torch.Generator().manual_seed(1)
    queries, keys = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)
    q, k = F.normalize(queries.mean(1), dim=1), F.normalize(keys.mean(1), dim=1)
    expected = torch.stack([-(q[i] @ k.T / TAU).log_softmax(0)[i] for i in range(3)]).mean()
    torch.testing.assert_close(instance_contrast(queries, keys, TAU), expected)


def test_loss_contrasts_the_masked_queries_with_the_slow_keys_of_their_own_image():
    model = build()
    corrupted, full = views(2, batch=4)
    mask = masks(4)
    loss = model.loss([corrupted, full], samples(mask))['loss']
    flat = mask.flatten(1)
    with torch.no_grad():  # the slow model equals the online one after its first update
        tokens = model.backbone.forward_tokens(corrupted, mask=flat, mask_token=model.mask_token)
        # the masked patch embeddings were replaced: other pixels under the mask give the same tokens
        under_mask = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1).float()  # (B, 1, 32, 32)
        other = corrupted + under_mask * torch.rand(corrupted.shape)
        assert torch.allclose(model.backbone.forward_tokens(other, mask=flat, mask_token=model.mask_token), tokens)
        assert not torch.allclose(model.backbone.forward_tokens(other), model.backbone.forward_tokens(corrupted))
        q = F.normalize(model.neck([tokens[:, 1:].reshape(-1, 48)])[0].view(4, 64, -1), dim=-1)
        k = F.normalize(
            model.neck([model.backbone.forward_tokens(full)[:, 1:].reshape(-1, 48)])[0].view(4, 64, -1), dim=-1
        )
    torch.testing.assert_close(loss, patch_contrast(q, k, flat, TAU))


def test_no_gradient_reaches_the_slow_model_and_its_momentum_follows_the_cosine():
    """m_t = 1 - (1 - 0.996) (cos(pi t / T) + 1) / 2: theta_s <- m_t theta_s + (1 - m_t) theta, T = max_iters."""
    MessageHub.get_current_instance().update_info('max_iters', 8)
    model = build()
    online = {**{f'0.{k}': v for k, v in model.backbone.named_parameters()},
              **{f'1.{k}': v for k, v in model.neck.named_parameters()}}  # fmt: skip
    slow = dict(model.momentum_encoder.module.named_parameters())
    assert set(slow) == set(online) and not any(p.requires_grad for p in slow.values())
    wrapper = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5))
    data = dict(inputs=[255 * v for v in views(2, batch=4)], data_samples=samples(masks(4)))
    model.train_step(data, wrapper)  # step 0: the slow model copies the online one
    for t in range(1, 4):
        before_slow = {k: v.detach().clone() for k, v in slow.items()}
        before_online = {k: v.detach().clone() for k, v in online.items()}
        model.train_step(data, wrapper)
        m = 1 - 0.004 * (math.cos(math.pi * t / 8) + 1) / 2
        for key in slow:
            torch.testing.assert_close(slow[key], m * before_slow[key] + (1 - m) * before_online[key])
        assert all(p.grad is None for p in slow.values())


@pytest.mark.parametrize(
    'config, switch',
    [
        ('conmim_instance_vit_nano_digits.py', {'model.contrast': 'instance'}),
        ('conmim_noslow_vit_nano_digits.py', {'model.slow_model': False}),
    ],
)
def test_each_model_ablation_changes_exactly_what_it_names(config, switch):
    init_default_scope('mmpretrain')
    base = Config.fromfile(REPO / 'configs' / 'study' / 'conmim_vit_nano_digits.py')
    ablation = Config.fromfile(REPO / 'configs' / 'study' / config)
    base.merge_from_dict(switch)
    assert ablation.to_dict() == base.to_dict()


def test_without_a_slow_model_the_online_model_makes_the_keys_without_gradient():
    model = build(slow_model=False)
    assert model.momentum_encoder is None
    corrupted, full = views(2, batch=4)
    with torch.no_grad():
        expected = model.neck([model.backbone.forward_tokens(full)[:, 1:].reshape(-1, 48)])[0].view(4, 64, -1)
        torch.testing.assert_close(model.full_view_keys(full), expected)
    loss = model.loss([corrupted, full], samples(masks(4)))['loss']
    loss.backward()
    assert model.mask_token.grad is not None and model.backbone.layers[0].attn.qkv.weight.grad is not None


def test_an_unknown_contrast_is_refused():
    with pytest.raises(ValueError, match="contrast must be one of \\('patch', 'instance'\\)"):
        build(contrast='image')


def test_vit_b_config_builds_on_meta_with_the_official_parameter_count():
    """BEiT-B without absolute positions (its shared relative position bias instead), layer scale in every block, the
    per-token projector and the mask token; a ViT block of width d with a 4d MLP holds 12 d^2 + 13 d weights."""
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(REPO / 'configs' / 'conmim_vit-b.py')
    with torch.device('meta'):
        model = ConMIM(**{k: v for k, v in cfg.model.items() if k != 'type'})

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    D, heads, grid = 768, 12, 14
    table = ((2 * grid - 1) ** 2 + 3) * heads  # relative distances on the 14 x 14 grid, and the 3 CLS entries
    encoder = (16 * 16 * 3 * D + D) + D + table + 12 * (12 * D * D + 13 * D + 2 * D) + 2 * D
    projector = D * 4096 + 2 * 4096 + 4096 * 4096 + 2 * 4096 + 4096 * 256  # the last BN has no affine parameters
    assert 'pos_embed' not in dict(model.backbone.named_parameters())
    assert count(model.backbone) == encoder
    assert count(model.neck) == projector
    assert model.mask_token.numel() == D
    slow_encoder, slow_projector = model.momentum_encoder.module
    assert (count(slow_encoder), count(slow_projector)) == (encoder, projector)


def differences(a, b, path: str = '') -> list[str]:
    """Where two config trees differ, as paths."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in differences(a.get(k), b.get(k), f'{path}.{k}')]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f'{path}[{i}]')]
    return [] if a == b else [path]


def test_the_switched_perturbations_ablation_swaps_the_two_views_and_nothing_else():
    init_default_scope('mmpretrain')
    base = Config.fromfile(REPO / 'configs' / 'study' / 'conmim_vit_nano_digits.py').to_dict()
    switched = Config.fromfile(REPO / 'configs' / 'study' / 'conmim_switched_vit_nano_digits.py').to_dict()
    views_at = [f'{where}[3].transforms[{i}]' for where in ('.train_pipeline', '.train_dataloader.dataset.pipeline')
                for i in (0, 1)]  # fmt: skip
    assert differences(base, switched) == sorted(views_at)
    basic, strong = base['train_dataloader']['dataset']['pipeline'][3]['transforms']
    assert basic == [] and strong  # ConMIM: the corrupted view basic, the full view strong
    assert switched['train_dataloader']['dataset']['pipeline'][3]['transforms'] == [strong, basic]


@pytest.fixture(scope='module')
def conmim_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_nano('conmim_vit_nano.py', tmp_path_factory.mktemp('conmim') / 'conmim_nano.pth')


BEIT_STYLE = dict(pos_embed_type='none', rel_pos_bias=True, layer_scale_init_value=0.1)


@pytest.mark.parametrize(
    'config, encoder',
    [
        ('configs/benchmarks/linear_lgp-vit-nano_digits.py', BEIT_STYLE),
        ('configs/benchmarks/finetune_conmim-vit-nano_digits.py', {}),
        ('configs/segmentation/upernet_lgp-vit-nano_digits-seg.py', BEIT_STYLE),  # 64 px: the bias table resized
    ],
)
def test_the_encoder_loads_strictly_for_every_protocol(config, encoder, conmim_checkpoint):
    backbone, loaded, online = protocol_backbone(config, conmim_checkpoint, **encoder)
    expected, new = pooled_keys(backbone, online)
    assert set(loaded) == expected | new
    table = 'rel_pos_bias.relative_position_bias_table'
    for key in expected - {table}:
        assert torch.equal(loaded[key], online[key]), key
    grid = backbone.patch_resolution
    assert loaded[table].shape == ((2 * grid[0] - 1) * (2 * grid[1] - 1) + 3, 3)
    if grid == (8, 8):
        assert torch.equal(loaded[table], online[table])
    size = grid[0] * 4
    assert all(torch.isfinite(o).all() for o in backbone(torch.randn(2, 3, size, size)))


def test_a_conmim_encoder_is_step_1_of_layer_grafted_pre_training(conmim_checkpoint):
    cfg = load_config(str(REPO / 'configs' / 'study' / 'grafted_conmim_vit_nano_digits.py'))
    cfg.model.step1.checkpoint = str(conmim_checkpoint)
    grafted = MODELS.build(cfg.model)
    grafted.init_weights()
    source = torch.load(conmim_checkpoint, weights_only=True)['state_dict']
    for key, value in grafted.backbone.state_dict().items():
        assert torch.equal(value, source[f'backbone.{key}']), key  # the online encoder, not the slow one
