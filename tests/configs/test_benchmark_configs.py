"""The benchmark configs (configs/benchmarks): every one builds; the recipes (the linear sweep's grid and optimiser as
the original's main_lincls_sweep.py, the layer decay of fine-tuning and the 10 % few-shot head); the nano twins
trained and tested through tools/train.py and tools/test.py."""

import re
from pathlib import Path

import mmengine
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from mocov3_checkpoint import save_mocov3_nano
from nano_checkpoints import save_nano
from torch.optim import SGD

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO_ROOT / 'configs' / 'benchmarks'
SWEEPS = ['linear-sweep_lgp-vit-b_8xb128-90e_in1k.py', 'linear-sweep_lgp-vit-nano_digits.py']
FEWSHOT10 = ['fewshot10_lgp-vit-b_8xb32-200e_in1k.py', 'fewshot10_lgp-vit-nano_digits.py']


def load(name: str) -> Config:
    init_default_scope('mmpretrain')
    return Config.fromfile(BENCHMARKS / name)


def build_on_meta(cfg: Config) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model and optimiser of a config without allocating weights (the AmpOptimWrapper of the full configs needs a
    GPU; the param groups do not)."""
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    optim_cfg = dict(cfg.optim_wrapper, type=OptimWrapper)
    optim_cfg.pop('dtype', None)
    return model, build_optim_wrapper(model, optim_cfg).optimizer


@pytest.fixture(scope='module')
def nano_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_mocov3_nano(tmp_path_factory.mktemp('nano') / 'mocov3_nano.pth')


@pytest.mark.parametrize('config', sorted(p.name for p in BENCHMARKS.glob('*.py')))
def test_every_benchmark_config_builds_with_a_frozen_or_trained_encoder(config: str) -> None:
    cfg = load(config)
    model, optimizer = build_on_meta(cfg)
    optimised = {id(p) for g in optimizer.param_groups for p in g['params']}
    backbone = list(model.backbone.parameters())
    if config.startswith('linear'):  # the probes only: the encoder is frozen
        assert not any(id(p) in optimised for p in backbone)
        assert not any(p.requires_grad for p in backbone)
    else:  # fine-tuning: every trainable tensor (all but the fixed sin-cos pos_embed, where there is one)
        assert {id(p) for p in model.parameters() if p.requires_grad} == optimised
        fixed = [name for name, p in model.backbone.named_parameters() if id(p) not in optimised]
        assert fixed == (['pos_embed'] if model.backbone.pos_embed is not None else [])
    assert {id(p) for p in model.head.parameters()} <= optimised


@pytest.mark.parametrize('config', SWEEPS)
def test_sweep_configs_follow_the_original_grid_and_optimiser(config: str) -> None:
    """main_lincls_sweep.py: lr = b x 10^s x batch / 256 for b in (1, 3, 5, 7, 9), s in -5..1, times wd in (0, 1e-6)
    on every tensor of the probe, SGD without momentum, no BatchNorm (``--add_batch_norm`` off)."""
    cfg = load(config)
    model, optimizer = build_on_meta(cfg)
    head = model.head
    scale = cfg.auto_scale_lr.base_batch_size / 256  # the lrs are given at auto_scale_lr's base batch
    grid = sorted((b * 10.0**s * scale, wd) for b in (1, 3, 5, 7, 9) for s in range(-5, 2) for wd in (0.0, 1e-6))
    assert head.num_probes == 70 == len(set(zip(head.lrs, head.weight_decays, strict=True)))
    probes = sorted(zip(head.lrs, head.weight_decays, strict=True))
    assert [lr for lr, _ in probes] == pytest.approx([lr for lr, _ in grid], rel=1e-12)
    assert [wd for _, wd in probes] == [wd for _, wd in grid]
    assert isinstance(head.bn, nn.Identity) and not list(head.buffers())
    assert isinstance(optimizer, SGD)
    group_of = {id(p): g for g in optimizer.param_groups for p in g['params']}
    assert set(group_of) == {id(p) for p in head.parameters()}  # the frozen encoder is not optimised
    for k, probe in enumerate(head.probes):
        for param in (probe.weight, probe.bias):  # the original's SGD(classifier.parameters(), weight_decay=wd)
            group = group_of[id(param)]
            assert group['momentum'] == 0
            assert group['lr'] == pytest.approx(head.lrs[k], rel=1e-12)
            assert group['weight_decay'] == pytest.approx(head.weight_decays[k], rel=1e-12)
    torch.testing.assert_close(
        torch.tensor(cfg.val_evaluator.lrs), torch.tensor(head.lrs), rtol=0, atol=0
    )  # the metric names each probe's lr as the head does


def test_sweep_twin_moves_each_probe_by_its_own_lr_and_weight_decay() -> None:
    """One SGD step without momentum: W_k <- W_k - lr_k (dL/dW_k + wd_k W_k), biases included."""
    cfg = load('linear-sweep_lgp-vit-nano_digits.py')
    model = MODELS.build(cfg.model)  # no init_weights: the encoder's checkpoint is not needed here
    head = model.head
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    model.train()
    params = [t for probe in head.probes for t in (probe.weight, probe.bias)]
    with torch.no_grad():
        for param in params:  # non-zero biases, so that their weight decay shows
            param.normal_(0, 0.1)
    before = [p.detach().clone() for p in params]
    loss = head.loss((torch.randn(8, 48),), [DataSample().set_gt_label(i % 10) for i in range(8)])['loss']
    loss.backward()
    grads = [p.grad.clone() for p in params]
    optimizer.step()
    for i, param in enumerate(params):
        k = i // 2
        expected = before[i] - head.lrs[k] * (grads[i] + head.weight_decays[k] * before[i])
        torch.testing.assert_close(param.detach(), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ('config', 'decay'),
    [
        ('finetune_lgp-vit-b_8xb128-100e_in1k.py', 0.6),
        ('finetune_cmae-vit-b_8xb128-100e_in1k.py', 0.65),
        ('finetune_conmim-vit-b_8xb128-100e_in1k.py', 0.65),
        ('fewshot10_lgp-vit-b_8xb32-200e_in1k.py', 0.75),
    ],
)
def test_vit_b_layer_decay_multipliers(config: str, decay: float) -> None:
    cfg = load(config)
    model, optimizer = build_on_meta(cfg)
    base_lr = cfg.optim_wrapper.optimizer.lr
    lr_of = {id(p): g['lr'] for g in optimizer.param_groups for p in g['params']}
    backbone = model.backbone
    checked = 0
    for name, param in backbone.named_parameters():
        if not param.requires_grad:
            assert name == 'pos_embed'  # fixed sin-cos
            continue
        expected = decay ** (12 + 1 - backbone.layer_id(name))
        assert lr_of[id(param)] / base_lr == pytest.approx(expected), name
        checked += 1
    assert checked == len(list(backbone.parameters())) - (backbone.pos_embed is not None)
    assert all(lr_of[id(p)] == pytest.approx(base_lr) for p in model.head.parameters())


@pytest.mark.parametrize('config', FEWSHOT10)
def test_fewshot10_head_is_the_projectors_first_layer_then_a_new_one(config: str) -> None:
    """The original release (--tuneFromFirstFC): fc0 (the projector's first Linear, no bias), then the new fc; no BN or
    ReLU between them."""
    cfg = load(config)
    with torch.device('meta'):
        head = MODELS.build(cfg.model).head
    assert [name for name, _ in head.named_children() if name != 'loss_module'] == ['fc0', 'fc']
    assert head.fc0.bias is None and head.fc0.out_features == head.fc.in_features
    assert cfg.model.head.init_cfg.type == 'Pretrained'


def run_options(digits_root: Path, checkpoint: Path, max_epochs: int) -> list[str]:
    """``--cfg-options`` for a short CPU run on 64 digits, evaluated on the 360 val digits, without workers."""
    return [
        '--cfg-options',
        f'train_cfg.max_epochs={max_epochs}',
        f'train_cfg.val_interval={max_epochs}',
        f'train_dataloader.dataset.data_root={digits_root}',
        f'val_dataloader.dataset.data_root={digits_root}',
        f'test_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=64',
        'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        f'model.backbone.init_cfg.checkpoint={checkpoint}',
    ]


def train_then_test(
    config: str, digits_root: Path, checkpoint: Path, work_dir: Path, run_tool, max_epochs: int = 1, *extra: str
) -> dict:
    """tools/train.py for ``max_epochs`` (``extra``: more ``--cfg-options``), then tools/test.py on its last
    checkpoint; returns the metrics test.py printed."""
    options = [*run_options(digits_root, checkpoint, max_epochs), *extra]
    run_tool(['tools/train.py', str(BENCHMARKS / config), '--work-dir', str(work_dir), *options])
    metrics_file = work_dir / 'metrics.json'
    result = run_tool(
        [
            'tools/test.py',
            str(BENCHMARKS / config),
            str(work_dir / f'epoch_{max_epochs}.pth'),
            '--work-dir',
            str(work_dir),
            '--out',
            str(metrics_file),
            '--out-item',
            'metrics',
            *options,
        ]
    )
    printed = {k: float(v) for k, v in re.findall(r'(\S+/top1): ([\d.]+)', result.stdout + result.stderr)}
    assert printed, 'tools/test.py printed no accuracy'
    saved = mmengine.load(metrics_file)
    assert all(saved[k] == pytest.approx(v, abs=1e-3) for k, v in printed.items())
    return printed


def test_linear_probe_twin_trains_and_tests(digits_root: Path, nano_checkpoint: Path, tmp_path: Path, run_tool) -> None:
    metrics = train_then_test('linear_lgp-vit-nano_digits.py', digits_root, nano_checkpoint, tmp_path, run_tool)
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    trained = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    pretrained = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    assert torch.equal(trained['backbone.layers.5.attn.qkv.weight'], pretrained['backbone.layers.5.attn.qkv.weight'])
    assert {'head.bn.running_mean', 'head.fc.weight'} <= set(trained)  # BN without affine parameters


def test_finetune_twin_trains_and_tests(digits_root: Path, nano_checkpoint: Path, tmp_path: Path, run_tool) -> None:
    """Two epochs, one of them warm-up (a run must outlast its warm-up)."""
    warm_up = ('param_scheduler.0.end=1', 'param_scheduler.1.begin=1')
    metrics = train_then_test(
        'finetune_lgp-vit-nano_digits.py', digits_root, nano_checkpoint, tmp_path, run_tool, 2, *warm_up
    )
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    trained = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)['state_dict']
    pretrained = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    assert not torch.equal(
        trained['backbone.layers.0.attn.qkv.weight'], pretrained['backbone.layers.0.attn.qkv.weight']
    )


@pytest.mark.parametrize('method', ['cmae', 'conmim'])
def test_pooled_finetune_twin_trains_a_whole_pretraining_checkpoint(
    method: str, digits_root: Path, tmp_path: Path, run_tool
) -> None:
    """CMAE's and ConMIM's fine-tuning: average-pooled features from the online encoder of a whole pre-training
    checkpoint, its final norm left out and the pooled features' norm (ln2) new, both logged; every other tensor
    loaded (ConMIM's: its BEiT-style encoder, the relative position table included)."""
    checkpoint = save_nano(f'{method}_vit_nano.py', tmp_path / f'{method}_nano.pth')
    warm_up = ('param_scheduler.0.end=1', 'param_scheduler.1.begin=1')
    work_dir = tmp_path / 'run'
    config = f'finetune_{method}-vit-nano_digits.py'
    metrics = train_then_test(config, digits_root, checkpoint, work_dir, run_tool, 2, *warm_up)
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    log = sorted(work_dir.glob('*/*.log'))[0].read_text()  # the training run's, the first
    assert 'the final norm, which this backbone does not have' in log and "ln2, MAE's fc_norm" in log
    trained = torch.load(work_dir / 'epoch_2.pth', weights_only=True)['state_dict']
    assert 'backbone.ln2.weight' in trained and 'backbone.ln1.weight' not in trained
    pretrained = torch.load(checkpoint, weights_only=True)['state_dict']
    assert {k for k in trained if k.startswith('backbone.')} - {'backbone.ln2.weight', 'backbone.ln2.bias'} == {
        k for k in pretrained if k.startswith('backbone.')
    } - {'backbone.ln1.weight', 'backbone.ln1.bias'}


def test_sweep_twin_reports_every_probe_through_test_tool(digits_root: Path, tmp_path: Path, run_tool) -> None:
    config = BENCHMARKS / 'linear-sweep_lgp-vit-nano_digits.py'
    model = MODELS.build(Config.fromfile(config).model)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'sweep.pth')
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={digits_root}', 'test_dataloader.num_workers=0']
    metrics_file = tmp_path / 'metrics.json'
    run_tool(
        [
            'tools/test.py',
            str(config),
            str(tmp_path / 'sweep.pth'),
            '--work-dir',
            str(tmp_path),
            '--out',
            str(metrics_file),
            '--out-item',
            'metrics',
            *options,
        ]
    )
    metrics = mmengine.load(metrics_file)
    num_probes = model.head.num_probes
    per_probe = [metrics[f'multi_head/probe_{k}/top1'] for k in range(num_probes)]
    assert f'multi_head/probe_{num_probes}/top1' not in metrics
    best = metrics['multi_head/best_probe']
    assert metrics['multi_head/top1'] == max(per_probe) == per_probe[best]
    assert metrics['multi_head/best_lr'] == pytest.approx(model.head.lrs[best])
    assert metrics['multi_head/best_wd'] == pytest.approx(model.head.weight_decays[best])


def test_fewshot10_twin_loads_the_projector_and_trains(digits_root: Path, nano_checkpoint: Path) -> None:
    """One training step of the 10 % config, in process: split file, pipeline, projector head, layer-decay optimiser."""
    cfg = load('fewshot10_lgp-vit-nano_digits.py')
    cfg.model.backbone.init_cfg.checkpoint = cfg.model.head.init_cfg.checkpoint = str(nano_checkpoint)
    cfg.model.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(cfg.model)
    model.init_weights()
    pretrained = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    assert torch.equal(model.head.fc0.weight, pretrained['neck.fc0.weight'])
    assert not any(k.startswith('head.bn0.') for k in model.state_dict())  # the projector's BN is not loaded
    assert torch.equal(model.backbone.layers[0].attn.qkv.weight, pretrained['backbone.layers.0.attn.qkv.weight'])
    loader_cfg = dict(cfg.train_dataloader, num_workers=0)
    loader_cfg['dataset'] = dict(cfg.train_dataloader.dataset, data_root=str(digits_root))
    loader = Runner.build_dataloader(loader_cfg)
    assert len(loader.dataset) == 144  # the digits' 10 % split
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    losses = model.train_step(next(iter(loader)), optim_wrapper)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(model.head.fc0.weight, pretrained['neck.fc0.weight'])
