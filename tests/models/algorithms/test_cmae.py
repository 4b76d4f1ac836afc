"""CMAE (lgp.models.algorithms.cmae): the loss against a hand computation, where gradients go, the EMA target, the
gathered negatives across processes, the ViT-B config's parameter counts against the architecture's formulas, and
the transfer of its encoder to every evaluation protocol, segmentation and grafting."""

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from algorithm_helpers import REPO, model_cfg, pooled_keys, protocol_backbone, views
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from nano_checkpoints import save_nano

from lgp.engine import load_config
from lgp.models import CMAE, LGPViT
from lgp.models.checkpoint import load_backbone_checkpoint

TAU = 0.07


def build(**overrides) -> CMAE:
    torch.manual_seed(0)
    model = CMAE(**model_cfg('cmae_vit_nano.py', **overrides))
    model.init_weights()
    return model


def patchify_normalised(images: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p * p * C), rows of patches in (row, column, channel) order, each patch standardised with
    its own mean and unbiased variance (+1e-6): MAE's norm_pix target, written out."""
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1).reshape(B, (H // p) * (W // p), -1)
    return (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + 1e-6) ** 0.5


def test_loss_equals_a_hand_computation():
    """L_rec: squared error on the masked patches only; L_c: CE over the batch's keys at tau, times 2 tau and lambda."""
    model = build(fast_paths=False, contrast_weight=0.5)
    x_s, x_t = views(2, batch=6)
    torch.manual_seed(1)
    losses = model.loss([x_s, x_t], None)
    assert set(losses) == {'loss_rec', 'loss_contrast'}
    torch.manual_seed(1)  # the same mask: the target branch draws no random numbers
    latent, mask, ids_restore = model.backbone(x_s, mask=True)
    assert mask.sum(1).tolist() == [64 - 4 * int(16 * 0.35)] * 6  # 5 of 16 squares kept
    error = ((model.neck(latent, ids_restore) - patchify_normalised(x_s, 4)) ** 2).mean(-1)
    torch.testing.assert_close(losses['loss_rec'], (error * mask).sum() / mask.sum())
    # the target equals the online encoder after the first update; its tokens are read without the final norm
    q = model.contrast_head.predictor([model.projector([model.feature_decoder(latent, ids_restore).mean(1)])[0]])[0]
    k = model.projector([model.backbone.forward_tokens(x_t, final_norm=False)[:, 1:].mean(1)])[0]
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / TAU
    expected = 0.5 * 2 * TAU * -torch.log_softmax(logits, dim=1).diagonal().mean()
    torch.testing.assert_close(losses['loss_contrast'], expected)


def test_gradients_reach_the_online_parts_and_never_the_target():
    model = build()
    sum(model.loss(views(2, batch=6), None).values()).backward()
    online = ('backbone.', 'neck.', 'feature_decoder.', 'projector.', 'contrast_head.predictor.')
    for name, param in model.named_parameters():
        if name.startswith('momentum_encoder.'):
            assert not param.requires_grad and param.grad is None, name
        elif not param.requires_grad:  # the fixed sin-cos position embeddings of the encoder and both decoders
            assert name.endswith('pos_embed'), name
        else:
            assert name.startswith(online), name
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_the_ema_target_is_the_encoder_and_projector_at_momentum_0996():
    model = build()
    target = dict(model.momentum_encoder.module.named_parameters())
    online = {
        **{f'0.{k}': v for k, v in model.backbone.named_parameters()},
        **{f'1.{k}': v for k, v in model.projector.named_parameters()},
    }
    assert set(target) == set(online)  # nothing else is averaged: no decoder, no predictor
    wrapper = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1))
    data = dict(inputs=[255 * v for v in views(2, batch=6)], data_samples=None)
    initial = {k: v.detach().clone() for k, v in online.items()}
    model.train_step(data, wrapper)  # the update before the step's forward pass copies the online weights
    copied = {k: v.detach().clone() for k, v in target.items()}
    assert all(torch.equal(copied[k], initial[k]) for k in copied)
    before = {k: v.detach().clone() for k, v in online.items()}  # the online weights after the first step
    model.train_step(data, wrapper)
    moved = 0
    for key, value in target.items():
        torch.testing.assert_close(value, 0.996 * copied[key] + 0.004 * before[key])
        moved += not torch.equal(value, copied[key])
    assert moved > len(target) // 2  # every trained tensor moved (the fixed pos_embed and patch stats may not)


def test_unit_masking_and_widths_come_from_the_config():
    model = build()
    assert (model.backbone.mask_ratio, model.backbone.mask_unit) == (0.65, 2)
    with pytest.raises(ValueError, match='patch_size\\*\\*2 \\* in_chans'):
        build(feature_decoder=dict(model_cfg('cmae_vit_nano.py')['feature_decoder'], in_chans=1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _contrast_on_rank(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One process: the same model, this rank's own images; records the query, the keys, the logits and labels the
    loss saw, and the loss."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        MessageHub.get_current_instance().update_info('max_iters', 100)
        model = build()
        seen = {}
        model.contrast_head.predictor.register_forward_hook(lambda m, args, out: seen.update(query=out[0]))
        model.contrast_head.loss_module.register_forward_hook(
            lambda m, args, out: seen.update(logits=args[0], labels=args[1])
        )
        x_s, x_t = views(2, seed=10 + rank, batch=4)
        with torch.no_grad():
            loss = model.loss([x_s, x_t], None)['loss_contrast']
            keys = model.target_projection(x_t)  # the target after its update, on the same batch: the same keys
        torch.save(dict(seen, loss=loss, keys=keys), Path(out_dir) / f'rank{rank}.pth')
    finally:
        torch_dist.destroy_process_group()


def test_negatives_are_gathered_from_every_process(tmp_path):
    """Two gloo processes of 4 images: each rank's logits are 4 x 8 against both ranks' keys, its positives the keys
    at 4 * rank + i, and its loss 2 tau CE of them."""
    mp.spawn(_contrast_on_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in range(2)]
    all_keys = F.normalize(torch.cat([r['keys'] for r in ranks]), dim=1)
    for rank, record in enumerate(ranks):
        assert record['logits'].shape == (4, 8)
        assert record['labels'].tolist() == [4 * rank + i for i in range(4)]
        logits = F.normalize(record['query'], dim=1) @ all_keys.T / TAU
        torch.testing.assert_close(record['logits'], logits)
        torch.testing.assert_close(record['loss'], 2 * TAU * F.cross_entropy(logits, record['labels']))


def test_vit_b_config_builds_on_meta_with_the_official_parameter_counts():
    """Per part, from the architecture's formulas: a ViT block of width d with a 4d MLP holds 12 d^2 + 13 d weights."""
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(REPO / 'configs' / 'cmae_vit-b.py')
    with torch.device('meta'):
        model = CMAE(**{k: v for k, v in cfg.model.items() if k != 'type'})

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    def block(d: int) -> int:
        return 12 * d * d + 13 * d

    D, d, L = 768, 512, 196
    encoder = 16 * 16 * 3 * D + D + (1 + L) * D + D + 12 * block(D) + 2 * D  # patch embed, cls, pos, blocks, norm
    decoder = (D * d + d) + d + (1 + L) * d + 2 * d + (d * 768 + 768)  # embed, mask token, pos, norm, prediction

    assert count(model.backbone) == encoder == 85_798_656  # timm's vit_base_patch16_224 without its head
    assert count(model.neck) == decoder + 8 * block(d)
    assert count(model.feature_decoder) == decoder + 2 * block(d)
    assert count(model.projector) == (D * 1536 + 1536) + 2 * 1536 + 1536 * 256
    assert count(model.contrast_head) == (256 * 1536 + 1536) + 2 * 1536 + 1536 * 256
    target_encoder, target_projector = model.momentum_encoder.module
    assert (count(target_encoder), count(target_projector)) == (count(model.backbone), count(model.projector))


@pytest.fixture(scope='module')
def cmae_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_nano('cmae_vit_nano.py', tmp_path_factory.mktemp('cmae') / 'cmae_nano.pth')


@pytest.mark.parametrize(
    'config',
    [
        'configs/benchmarks/linear_lgp-vit-nano_digits.py',
        'configs/benchmarks/finetune_lgp-vit-nano_digits.py',
        'configs/benchmarks/finetune_cmae-vit-nano_digits.py',
        'configs/segmentation/upernet_lgp-vit-nano_digits-seg.py',
    ],
)
def test_the_online_encoder_loads_strictly_for_every_protocol(config, cmae_checkpoint):
    """Every tensor of the online encoder lands in the protocol's backbone; with average pooling, the final norm is
    left out and ln2 is new, both reported."""
    backbone, loaded, online = protocol_backbone(config, cmae_checkpoint)
    taken, new = pooled_keys(backbone, online)
    assert set(loaded) == taken | new
    for key in taken - {'pos_embed'}:  # pos_embed: resized for the segmentation crop
        assert torch.equal(loaded[key], online[key]), key
    dropped = load_backbone_checkpoint(backbone, cmae_checkpoint)
    reasons = ' '.join(dropped)
    assert ('final norm' in reasons and 'ln2' in reasons) == bool(new)


def test_a_cmae_encoder_is_step_1_of_layer_grafted_pre_training(cmae_checkpoint):
    cfg = load_config(str(REPO / 'configs' / 'grafted_vit-nano_digits.py'))
    cfg.model.step1.checkpoint = str(cmae_checkpoint)
    grafted = MODELS.build(cfg.model)
    grafted.init_weights()
    source = torch.load(cmae_checkpoint, weights_only=True)['state_dict']
    for key, value in grafted.backbone.state_dict().items():
        assert torch.equal(value, source[f'backbone.{key}']), key  # the online encoder, not the target


def test_the_target_encoder_is_readable_too(cmae_checkpoint):
    backbone = LGPViT('nano', img_size=32)
    load_backbone_checkpoint(backbone, cmae_checkpoint, encoder='momentum')
    source = torch.load(cmae_checkpoint, weights_only=True)['state_dict']
    assert torch.equal(backbone.cls_token, source['momentum_encoder.module.0.cls_token'])
