"""The pre-training configs: full-scale ones built without training and checked against the original recipes (lr and
weight decay of every tensor), their CPU twins trained for a few iterations."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from scalars import logged_scalars

from lgp.engine import GraftedOptimWrapperConstructor
from lgp.models import LGPViT
from lgp.models.backbones.vit import ARCHS

REPO = Path(__file__).resolve().parents[2]
TWINS = {
    'mae_vit-b.py': 'mae_vit-nano_digits.py',
    'mocov3_vit-b.py': 'mocov3_vit-nano_digits.py',
    'grafted_vit-b.py': 'grafted_vit-nano_digits.py',
    'grafted_vit-l.py': 'grafted-l1_vit-nano_digits.py',
    'mtl_vit-b.py': 'mtl_vit-nano_digits.py',
    'graft-cl2mim_vit-b.py': 'graft-cl2mim_vit-nano_digits.py',
    'graft-mim2cl-frozen_vit-b.py': 'graft-mim2cl-frozen_vit-nano_digits.py',
    'cmae_vit-b.py': 'cmae_vit-nano_digits.py',
    'conmim_vit-b.py': 'conmim_vit-nano_digits.py',
}


def load(name: str) -> Config:
    init_default_scope('mmpretrain')
    return Config.fromfile(REPO / 'configs' / name)


def build_on_meta(cfg: Config) -> tuple[torch.nn.Module, dict[str, tuple[float, float]]]:
    """Model and optimiser of a config without allocating weights: ``{param name: (lr, weight decay)}``."""
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    wrapper_cfg = cfg.optim_wrapper.copy()
    wrapper_cfg.type = OptimWrapper  # the configs' AmpOptimWrapper needs a GPU; the param groups do not
    wrapper_cfg.pop('dtype', None)
    optimizer = build_optim_wrapper(model, wrapper_cfg).optimizer
    by_id = {id(p): (g['lr'], g['weight_decay']) for g in optimizer.param_groups for p in g['params']}
    return model, {name: by_id[id(p)] for name, p in model.named_parameters() if id(p) in by_id}


# The weight-decay rule of each original code base, written from it (which trained tensors it decays):
def official_mae(name: str, param: torch.Tensor) -> bool:
    """MAE's main_pretrain.py: timm's ``add_weight_decay`` (no decay for 1-D tensors and ``.bias``)."""
    return not (param.ndim == 1 or name.endswith('.bias'))


def official_mocov3(name: str, param: torch.Tensor) -> bool:
    """MoCo v3's main_moco.py: ``AdamW(model.parameters(), weight_decay=wd)``: every tensor."""
    return True


def official_cmae(name: str, param: torch.Tensor) -> bool:
    """CMAE's config: ``custom_keys`` 'ln', 'bias', 'pos_embed', 'mask_token', 'cls_token' at decay 0 (BN weights of
    the projector and predictor are decayed)."""
    return not any(key in name for key in ('ln', 'bias', 'pos_embed', 'mask_token', 'cls_token'))


def official_conmim(name: str, param: torch.Tensor) -> bool:
    """ConMIM's (BEiT's) ``get_parameter_groups``: no decay for 1-D tensors, ``.bias`` and the model's
    ``no_weight_decay()`` = {pos_embed, cls_token}; the mask token and the relative position bias table are decayed."""
    return not (param.ndim == 1 or name.endswith('.bias') or name.endswith(('pos_embed', 'cls_token')))


def original_lgp(name: str, param: torch.Tensor) -> bool:
    """The LGP release's ``param_groups_lrd_moco(no_weight_decay_list=[])``: no decay for 1-D tensors only."""
    return param.ndim != 1


ORIGINAL_DECAY: dict[str, Callable[[str, torch.Tensor], bool]] = {
    'mae_vit-b.py': official_mae,
    'graft-cl2mim_vit-b.py': official_mae,
    'mocov3_vit-b.py': official_mocov3,
    'mtl_vit-b.py': official_mocov3,  # the release's pre-training code without layer-wise lrs
    'graft-mim2cl-frozen_vit-b.py': official_mocov3,  # the same code path, --fixTo without --lr_layer_wise
    'grafted_vit-b.py': original_lgp,
    'grafted_vit-l.py': original_lgp,
    'cmae_vit-b.py': official_cmae,
    'conmim_vit-b.py': official_conmim,
}


@pytest.mark.parametrize('config, rule', ORIGINAL_DECAY.items())
def test_weight_decay_of_every_tensor_follows_the_original(config, rule):
    cfg = load(config)
    model, groups = build_on_meta(cfg)
    wd = cfg.optim_wrapper.optimizer.weight_decay
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == set(trainable)
    for name, param in trainable.items():
        assert groups[name][1] == (wd if rule(name, param) else 0.0), name


def expected_grafted_lr(name: str, low_blocks: int, lr: float) -> float:
    """The recipe: cls_token and blocks below ``low_blocks`` at 0.1x, the rest at 1x."""
    low = name == 'backbone.cls_token' or (name.startswith('backbone.layers.') and int(name.split('.')[2]) < low_blocks)
    return 0.1 * lr if low else lr


@pytest.mark.parametrize(
    'config, depth, low_blocks, per_gpu_batch', [('grafted_vit-b.py', 12, 8, 512), ('grafted_vit-l.py', 24, 16, 256)]
)
def test_grafted_full_config_matches_the_recipe(config, depth, low_blocks, per_gpu_batch):
    """ViT-B: 8 GPUs x 512 is the recipe's 4096; ViT-L: 8 x 256 = 2048 ~ the original 2080, lr scaled linearly."""
    cfg = load(config)
    model, groups = build_on_meta(cfg)
    assert model.backbone.num_layers == depth and Path(cfg.model.step1.checkpoint).name.startswith('mae_pretrain')
    untrained = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert {'backbone.pos_embed', 'backbone.patch_embed.projection.weight', 'backbone.patch_embed.projection.bias'} <= (
        untrained
    )
    assert all(name.startswith('momentum_encoder.') for name in untrained if not name.startswith('backbone.'))
    for name, (lr, _) in groups.items():
        assert lr == pytest.approx(expected_grafted_lr(name, low_blocks, 2.4e-3)), name
    assert {n.split('.')[0] for n in groups} == {'backbone', 'neck', 'head'}  # projector, predictor at 1x
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type.__name__ == 'AdamW' and optimizer.betas == (0.9, 0.999) and optimizer.weight_decay == 0.1
    assert cfg.auto_scale_lr == dict(base_batch_size=4096, enable=True)
    assert cfg.get('sync_bn') == 'torch' and 'accumulative_counts' not in cfg.optim_wrapper
    assert cfg.train_cfg.max_epochs == 300 and cfg.train_dataloader.batch_size == per_gpu_batch
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end, cosine.begin, cosine.eta_min) == (0, 40, 40, 0.0)
    assert 'end' not in cosine and 'T_max' not in cosine  # the cosine ends with the run: max_epochs alone sets it
    assert cfg.model.head.temperature == 0.2 and cfg.model.base_momentum == 0.01


def test_grafted_vit_l_pulls_the_low_blocks_toward_mae():
    cfg = load('grafted_vit-l.py')
    assert (cfg.model.anchor_weight, cfg.model.anchor_blocks) == (1e-5, 12)
    assert cfg.model.backbone.with_cp


@pytest.mark.parametrize(
    'config, frozen_blocks, lr, epochs',
    [
        ('graft-cl2mim_vit-b.py', 8, 2.4e-3, 100),
        ('graft-mim2cl-frozen_vit-b.py', 8, 2.4e-3, 100),
        ('mae_vit-b.py', 0, 2.4e-3, 1600),
        ('mocov3_vit-b.py', 0, 2.4e-3, 300),
        ('mtl_vit-b.py', 0, 2.4e-3, 300),
        ('cmae_vit-b.py', 0, 2.4e-3, 1600),
    ],
)
def test_baseline_full_configs(config, frozen_blocks, lr, epochs):
    """Frozen means requires_grad=False (absent from the optimiser); everything trained runs at the base lr."""
    cfg = load(config)
    model, groups = build_on_meta(cfg)
    for name, param in model.backbone.named_parameters():
        frozen = frozen_blocks > 0 and model.backbone.layer_id(name) <= frozen_blocks  # embeddings, blocks 0..k-1
        fixed = name in ('pos_embed', 'patch_embed.projection.weight', 'patch_embed.projection.bias')
        assert param.requires_grad != frozen or fixed, name
    assert all(group_lr == pytest.approx(lr) for group_lr, _ in groups.values())
    assert cfg.auto_scale_lr.base_batch_size == 4096 and cfg.train_cfg.max_epochs == epochs
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == cosine.begin == (10 if epochs == 100 else 40)


def test_conmim_full_config_matches_the_official_recipe():
    """ViT-B: AdamW (0.9, 0.98), lr 5e-4 at batch 2048 (8 x 256), 10 warm-up epochs from 1e-6, cosine to an absolute
    1e-5, 300 epochs; BEiT-style encoder, per-token projector, tau 0.1, momentum 0.996 -> 1, block masks of 75."""
    cfg = load('conmim_vit-b.py')
    model, groups = build_on_meta(cfg)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.lr, optimizer.betas, optimizer.weight_decay) == (5e-4, (0.9, 0.98), 0.05)
    assert all(lr == pytest.approx(5e-4) for lr, _ in groups.values())
    assert cfg.auto_scale_lr == dict(base_batch_size=2048, enable=True) and cfg.train_dataloader.batch_size == 256
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.eta_min, cfg.train_cfg.max_epochs) == (10, 10, 1e-5, 300)
    assert warmup.start_factor * optimizer.lr == pytest.approx(1e-6)
    backbone = model.backbone
    assert backbone.pos_embed is None and backbone.rel_pos_bias is not None and backbone.init_scheme == 'beit'
    assert backbone.layers[0].attn.gamma1.weight.shape == (768,)  # layer scale
    assert (cfg.model.temperature, cfg.model.base_momentum, cfg.model.contrast) == (0.1, 0.004, 'patch')
    assert cfg.model.backbone.get('drop_path_rate', 0.0) == 0.0 and 'sync_bn' not in cfg
    mask = next(t for t in cfg.train_dataloader.dataset.pipeline if 'num_masking_patches' in t)
    assert (mask.input_size, mask.num_masking_patches, mask.min_num_patches) == (14, 75, 16)


def transforms(cfg: Config) -> list:
    """Transform types of the training pipeline, views included."""
    out = []
    for t in cfg.train_dataloader.dataset.pipeline:
        out.append(t.type)
        for view in t.get('transforms', []):
            out.append([v.type for v in view])
    return out


GRAFT_KEYS = ('lower_lr_mult', 'anchor_weight')


@pytest.mark.parametrize('full, tiny', TWINS.items())
def test_cpu_twins_follow_their_full_config(full, tiny):
    """A twin differs in size only: model type, graft, optimiser settings, schedule shape and views match."""
    big, small = load(full), load(tiny)
    assert small.model.type is big.model.type and small.model.backbone.type is big.model.backbone.type
    for key in (
        'mask_ratio',
        'mask_unit',
        'pos_embed_type',
        'rel_pos_bias',
        'layer_scale_init_value',
        'init_scheme',
        'stop_grad_patch_embed',
        'out_type',
        'with_cp',
    ):
        assert small.model.backbone.get(key) == big.model.backbone.get(key), key
    for key in (
        'base_momentum',
        'cl_weight',
        'contrast_weight',
        'target_momentum',
        'contrast',
        'slow_model',
        *GRAFT_KEYS,
    ):
        assert small.model.get(key) == big.model.get(key), key
    if 'lower_blocks' in big.model:  # the same share of the blocks: 8 of 12, 16 of 24 -> 4 of 6
        depth = ARCHS[big.model.backbone.arch]['num_layers']
        assert small.model.lower_blocks / ARCHS['nano']['num_layers'] == big.model.lower_blocks / depth
    assert (big.model.backbone.get('frozen_stages', -1) > 0) == (small.model.backbone.get('frozen_stages', -1) > 0)
    for key in ('type', 'lr', 'betas', 'weight_decay'):
        assert small.optim_wrapper.optimizer[key] == big.optim_wrapper.optimizer[key], key
    assert small.optim_wrapper.paramwise_cfg == big.optim_wrapper.paramwise_cfg
    assert small.auto_scale_lr == big.auto_scale_lr and small.get('sync_bn') == big.get('sync_bn')
    assert [s.type for s in small.param_scheduler] == [s.type for s in big.param_scheduler]
    assert small.param_scheduler[1].eta_min == big.param_scheduler[1].eta_min
    assert transforms(small) == transforms(big)


def tiny_options(digits_root: Path, checkpoint: Path, cfg: Config, images: int = 64) -> list[str]:
    """Two epochs of two iterations on the first digits, starting from ``checkpoint`` where the config loads one."""
    options = [
        f'train_dataloader.dataset.data_root={digits_root}',
        f'train_dataloader.dataset.indices={images}',
        'train_dataloader.batch_size=32',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=2',
        'default_hooks.logger.interval=1',
    ]
    if 'step1' in cfg.model:
        options.append(f'model.step1.checkpoint={checkpoint}')
    if 'init_cfg' in cfg.model.backbone:
        options.append(f'model.backbone.init_cfg.checkpoint={checkpoint}')
    if cfg.param_scheduler[0].end >= 2:  # a warm-up as long as the run: one epoch of it
        options += ['param_scheduler.0.end=1', 'param_scheduler.1.begin=1']
    return options


@pytest.mark.parametrize('tiny', sorted(set(TWINS.values()) - {'mae_vit-nano_digits.py'}))
def test_cpu_twin_trains_through_tools(tiny, digits_root, mae_checkpoint, tmp_path, run_tool):
    options = tiny_options(digits_root, mae_checkpoint, load(tiny))
    run_tool(['tools/train.py', f'configs/{tiny}', '--work-dir', str(tmp_path), '--cfg-options', *options])
    records = [r for r in logged_scalars(tmp_path) if 'loss' in r]
    assert len(records) == 4 and all(torch.isfinite(torch.tensor(r['loss'])) for r in records)
    assert (tmp_path / 'epoch_2.pth').exists()


@pytest.mark.parametrize('tiny', sorted(set(TWINS.values())))
def test_loss_decreases_on_a_fixed_batch(tiny, digits_root, mae_checkpoint):
    cfg = load(tiny)
    if 'step1' in cfg.model:
        cfg.model.step1.checkpoint = str(mae_checkpoint)
    if 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg.checkpoint = str(mae_checkpoint)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=16)
    cfg.train_dataloader.dataset.update(data_root=str(digits_root), indices=16)
    torch.manual_seed(0)
    batch = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))  # as the runner merges them
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    losses = []
    for _ in range(8):
        log = model.train_step(batch, wrapper)
        losses.append(sum(v for k, v in log.items() if k.startswith('loss')).item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert min(losses[-3:]) < losses[0], losses


@pytest.mark.parametrize(
    'schedule',
    [
        '_base_/schedules/mae_adamw.py',
        '_base_/schedules/mocov3_adamw.py',
        'benchmarks/_base_/schedules/finetune_adamw_coslr_100e.py',
        'segmentation/_base_/schedules/adamw_layer_decay_160k.py',
    ],
)
def test_adamw_schedules_are_fused_and_update_like_the_default(schedule):
    """``fused=True`` picks PyTorch's one-kernel AdamW: over grafted param groups (0.1x / 1x lr, with and without
    weight decay) three steps move every parameter as the default implementation does."""
    optimizer = load(schedule).optim_wrapper.optimizer.to_dict()
    assert optimizer.pop('fused') is True
    torch.manual_seed(0)
    models = [torch.nn.ModuleDict(dict(backbone=LGPViT('nano', img_size=32))) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    paramwise = dict(lr_layer_wise='1e-4,1e-4,1e-3', weight_decay_rule='skip_1d')
    optimizers = [
        GraftedOptimWrapperConstructor(dict(type=OptimWrapper, optimizer=dict(optimizer, **options)), paramwise)(m)
        for m, options in zip(models, [dict(fused=True), dict(foreach=False)], strict=True)
    ]
    assert optimizers[0].optimizer.defaults['fused'] and not optimizers[1].optimizer.defaults['fused']
    for step in range(3):
        grads = torch.Generator().manual_seed(step)
        for p, q in zip(*(m.parameters() for m in models), strict=True):
            p.grad = torch.randn(p.shape, generator=grads)
            q.grad = p.grad.clone()
        for wrapper in optimizers:
            wrapper.step()
    for (name, p), q in zip(models[0].named_parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch.equal(models[0].backbone.layers[0].ln1.weight, torch.ones(48))  # the parameters did move


def test_fashion_mnist_twin_changes_only_the_data_and_the_scale():
    """mae_vit-nano_fashion-mnist.py is mae_vit-nano_digits.py on another data root, with its own batch and length."""
    digits, fashion = load('mae_vit-nano_digits.py'), load('mae_vit-nano_fashion-mnist.py')
    assert fashion.train_dataloader.dataset.data_root == 'data/fashion-mnist'
    assert fashion.train_dataloader.dataset.pipeline == digits.train_dataloader.dataset.pipeline
    assert fashion.model == digits.model and fashion.optim_wrapper == digits.optim_wrapper
    assert (fashion.train_dataloader.batch_size, fashion.train_cfg.max_epochs) == (256, 10)
    assert [s.type for s in fashion.param_scheduler] == [s.type for s in digits.param_scheduler]
