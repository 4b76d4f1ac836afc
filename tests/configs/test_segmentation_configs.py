"""The ADE20K segmentation configs built without training: the ViT-B / ViT-L recipes (feature shapes, layer decay,
weight decay), their nano CPU twin's likeness to them, and the strict loading of an lgp pre-training checkpoint into
the 512-px ViT-B backbone."""

import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.models.utils import resize_pos_embed
from mmseg.registry import MODELS as MMSEG_MODELS

import lgp  # noqa: F401  (registrations)
from lgp.models import LGPViT
from lgp.models.checkpoint import CheckpointMismatchError, load_backbone_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
SEG = REPO_ROOT / 'configs' / 'segmentation'
TWIN = 'upernet_lgp-vit-nano_digits-seg.py'
VIT_B_CONFIG = 'upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py'
VIT_L_CONFIG = 'upernet_lgp-vit-l_8xb2-160k_ade20k-512x512.py'
# MAE / BEiT fine-tuning and mmseg's MAE ADE20K config: no weight decay on 1-D tensors (norms, biases) and on these
NO_DECAY_NAMES = ('pos_embed', 'cls_token')


def load(config: str) -> Config:
    init_default_scope('mmseg')
    return Config.fromfile(SEG / config)


def build_on_meta(config: str) -> tuple[Config, torch.nn.Module]:
    """A segmentation config and its model, built on the meta device (shapes only, nothing allocated)."""
    cfg = load(config)
    with torch.device('meta'):
        model = MMSEG_MODELS.build(cfg.model)
    return cfg, model


def check_layer_decay(cfg: Config, model: torch.nn.Module, decay: float) -> None:
    """Every backbone parameter at lr * decay ** (L + 1 - layer_id), the rest at lr; no weight decay on the
    embedding tokens and on 1-D parameters (norms, biases); everything trainable is optimised."""
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.pop('dtype')
    wrapper_cfg.type = OptimWrapper  # AmpOptimWrapper needs a GPU; the param groups are the same
    optimizer = build_optim_wrapper(model, wrapper_cfg).optimizer
    group_of = {id(p): group for group in optimizer.param_groups for p in group['params']}
    lr, wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    backbone = model.backbone
    depth = backbone.num_layers
    assert backbone.pos_embed.requires_grad  # fine-tuned (learnable) in the transfer
    for name, param in model.named_parameters():
        group = group_of[id(param)]
        if name.startswith('backbone.'):
            layer_id = backbone.layer_id(name[len('backbone.') :])
            assert group['lr'] == pytest.approx(lr * decay ** (depth + 1 - layer_id), rel=1e-9), name
        else:
            assert group['lr'] == pytest.approx(lr), name
        no_decay = param.ndim <= 1 or name.endswith(NO_DECAY_NAMES)
        assert group['weight_decay'] == (0.0 if no_decay else wd), name
    for i in range(depth):
        block_lr = group_of[id(backbone.layers[i].attn.qkv.weight)]['lr']
        assert block_lr == pytest.approx(lr * decay ** (depth - i))
    assert group_of[id(backbone.cls_token)]['lr'] == pytest.approx(lr * decay ** (depth + 1))
    assert group_of[id(backbone.pos_embed)]['weight_decay'] == 0.0


def test_vit_b_config_recipe_shapes_and_layer_decay() -> None:
    cfg, model = build_on_meta(VIT_B_CONFIG)
    assert cfg.default_scope == 'mmseg' and cfg.pretrained == 'checkpoints/lgp_vit-b.pth'
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=cfg.pretrained, source='auto', encoder='online'
    )
    assert (cfg.train_dataloader.batch_size, cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (2, 160000, 16000)
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.paramwise_cfg == dict(layer_decay=0.65, weight_decay_rule='skip_1d_and_tokens')
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.lr, optimizer.betas, optimizer.weight_decay) == (1e-4, (0.9, 0.999), 0.05)
    warmup, poly = cfg.param_scheduler
    assert (warmup.start_factor, warmup.end, poly.begin, poly.power, poly.eta_min) == (1e-6, 1500, 1500, 1.0, 0.0)
    assert 'end' not in poly  # mmengine's default end: train_cfg.max_iters, the run's one length setting
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(512, 512), stride=(341, 341))
    assert cfg.train_dataloader.dataset.reduce_zero_label and cfg.model.decode_head.num_classes == 150
    with torch.device('meta'):
        features = model.backbone(torch.empty(1, 3, 512, 512))
        pyramid = model.neck(features)
    assert [tuple(f.shape) for f in features] == [(1, 768, 32, 32)] * 4
    assert [tuple(p.shape) for p in pyramid] == [(1, 768, s, s) for s in (128, 64, 32, 16)]
    check_layer_decay(cfg, model, 0.65)


def test_vit_l_config_shapes_and_layer_decay() -> None:
    cfg, model = build_on_meta(VIT_L_CONFIG)
    backbone = model.backbone
    assert (backbone.num_layers, backbone.embed_dims, backbone.with_cp) == (24, 1024, True)
    with torch.device('meta'):
        features = backbone(torch.empty(1, 3, 512, 512))
        pyramid = model.neck(features)
    assert list(backbone.out_indices) == [7, 11, 15, 23]
    assert [tuple(p.shape) for p in pyramid] == [(1, 1024, s, s) for s in (128, 64, 32, 16)]
    check_layer_decay(cfg, model, 0.75)


def test_nano_twin_follows_the_vit_b_config_in_all_but_scale() -> None:
    """The twin differs in size only: model types, backbone options, weight-decay rule, schedule shape, pipeline."""
    big, small = load(VIT_B_CONFIG), load(TWIN)
    assert small.model.type is big.model.type
    for part in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
        assert small.model[part].type is big.model[part].type, part
    for key in ('out_type', 'pos_embed_type', 'drop_path_rate', 'final_norm'):
        assert small.model.backbone[key] == big.model.backbone[key], key
    assert small.model.backbone.init_cfg == dict(big.model.backbone.init_cfg, checkpoint=small.pretrained)
    assert small.optim_wrapper.paramwise_cfg == big.optim_wrapper.paramwise_cfg
    for key in ('type', 'betas', 'weight_decay'):
        assert small.optim_wrapper.optimizer[key] == big.optim_wrapper.optimizer[key], key
    assert [s.type for s in small.param_scheduler] == [s.type for s in big.param_scheduler]
    assert [s.by_epoch for s in small.param_scheduler] == [s.by_epoch for s in big.param_scheduler] == [False] * 2
    assert 'end' not in small.param_scheduler[1]  # the poly decay ends with the run, whatever its length
    pipeline = [[t.type for t in cfg.train_dataloader.dataset.pipeline] for cfg in (small, big)]
    assert pipeline[0] == pipeline[1]
    _, model = build_on_meta(TWIN)
    check_layer_decay(small, model, 0.65)


def test_vit_b_backbone_loads_lgp_pretraining_checkpoint_strictly(tmp_path: Path) -> None:
    """A 224-px lgp pre-training checkpoint (online + momentum encoder, projector) into the 512-px ViT-B backbone."""
    cfg = load(VIT_B_CONFIG)
    source = LGPViT(arch='b', img_size=224)
    source.init_weights()
    online = source.state_dict()
    state_dict = {f'backbone.{k}': v for k, v in online.items()}
    state_dict.update({f'momentum_encoder.module.0.{k}': v for k, v in online.items()})
    state_dict['momentum_encoder.module.0.cls_token'] = online['cls_token'] + 1.0
    state_dict.update({'neck.fc0.weight': torch.zeros(8, 768), 'head.predictor.fc0.weight': torch.zeros(8, 8)})
    path = tmp_path / 'lgp_vit-b.pth'
    torch.save({'state_dict': state_dict, 'meta': {}}, path)

    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.init_cfg.checkpoint = str(path)
    backbone = MMSEG_MODELS.build(backbone_cfg)
    assert backbone.pos_embed.shape == (1, 1 + 32 * 32, 768)
    backbone.init_weights()  # the config's init_cfg: Pretrained, strict, online encoder
    loaded = backbone.state_dict()
    assert set(loaded) == set(online)
    assert all(torch.equal(loaded[k], online[k]) for k in online if k != 'pos_embed')
    assert torch.equal(loaded['cls_token'], online['cls_token'])  # the online encoder, not the momentum one
    resized = resize_pos_embed(online['pos_embed'], (14, 14), (32, 32), mode='bicubic', num_extra_tokens=1)
    assert loaded['pos_embed'].shape == (1, 1025, 768) and torch.allclose(loaded['pos_embed'], resized)

    dropped = load_backbone_checkpoint(backbone, path)
    assert sorted(k for keys in dropped.values() for k in keys) == sorted(
        k for k in state_dict if not k.startswith('backbone.')
    )
    del state_dict['backbone.layers.3.attn.qkv.weight']
    with pytest.raises(CheckpointMismatchError, match=r'missing in the checkpoint \(1\): layers\.3\.attn\.qkv\.weight'):
        load_backbone_checkpoint(backbone, {'state_dict': state_dict})

    backbone.eval()
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, 512, 512))
    assert [tuple(f.shape) for f in features] == [(1, 768, 32, 32)] * 4
    assert all(torch.isfinite(f).all() for f in features)
