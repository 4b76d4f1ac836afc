"""Evaluation: features + logistic regression, its optimality, the feature cache, the probe heads, the metric, the
benchmark configs (optimiser multipliers, CPU runs through tools/train.py and tools/test.py) and tools/fewshot_eval.py.
"""

import json
import os
import re
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from sklearn.linear_model import LogisticRegression

import lgp  # noqa: F401  (registrations, safe-load allow-list)
from lgp.evaluation import (
    MultiHeadAccuracy,
    evaluate,
    extract_features,
    feature_cache_key,
    fit_logistic_regression,
    l2_from_lambda0,
    logistic_objective,
    objective_gradient,
    prepare_features,
    sklearn_c_from_l2,
    sweep_lambdas,
)
from lgp.models.checkpoint import CheckpointMismatchError
from lgp.models.heads import MultiLinearProbeHead, ProjectorClsHead

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / 'configs' / 'benchmarks'


def gaussian_classes(n_per_class: int, dims: int = 20, scale: float = 4.0, seed: int = 0):
    """3 Gaussian classes in ``dims``-D with means mu_c = scale * e_{2c}; returns (x (N, D), y (N,), means (3, D))."""
    g = torch.Generator().manual_seed(seed)
    means = torch.zeros(3, dims)
    for c in range(3):
        means[c, 2 * c] = scale
    y = torch.arange(3).repeat_interleave(n_per_class)
    return means[y] + torch.randn(len(y), dims, generator=g), y, means


class ToyData(torch.utils.data.Dataset):
    """Synthetic 'images' (1, 4, 5) whose 20 pixels are the features, with mmengine-style samples."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i].view(1, 4, 5), data_samples=DataSample().set_gt_label(int(self.y[i])))


class CountingFlatten(nn.Module):
    """A 'backbone' returning its flattened input as (B, 20) features, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        self.calls += 1
        return (x.flatten(1) * self.scale,)


def toy_loader(x: torch.Tensor, y: torch.Tensor) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(ToyData(x, y), batch_size=16, collate_fn=lambda batch: _collate(batch))


def _collate(batch: list[dict]) -> dict:
    return dict(inputs=[b['inputs'] for b in batch], data_samples=[b['data_samples'] for b in batch])


def test_features_and_logistic_regression_recover_a_known_separation() -> None:
    x_train, y_train, means = gaussian_classes(60, scale=8.0, seed=0)
    x_val, y_val, _ = gaussian_classes(100, scale=8.0, seed=1)
    backbone, preprocessor = CountingFlatten(), ClsDataPreprocessor()
    f_train, l_train = extract_features(backbone, toy_loader(x_train, y_train), data_preprocessor=preprocessor)
    f_val, l_val = extract_features(backbone, toy_loader(x_val, y_val), data_preprocessor=preprocessor)
    assert f_train.dtype == torch.float32 and f_train.shape == (180, 20)
    torch.testing.assert_close(f_train, x_train)
    assert torch.equal(l_train, y_train) and torch.equal(l_val, y_val)
    train, val = prepare_features(f_train, f_val)
    fit = fit_logistic_regression(train, l_train, l2=l2_from_lambda0(2.5e-4, len(train)))
    assert fit.converged
    assert evaluate(fit, val, l_val) == {'top1': 100.0, 'top5': 100.0}
    # W's rows point along the generating means: class c's largest weight is on dimension 2c, and each (prepared)
    # mean is classified as its own class
    assert fit.weight.argmax(dim=1).tolist() == [0, 2, 4]
    prepared_means = torch.nn.functional.normalize(means - f_train.mean(0), dim=1)
    assert fit.logits(prepared_means.double()).argmax(dim=1).tolist() == [0, 1, 2]


def test_solver_optimum_matches_scikit_learn() -> None:
    x, y, _ = gaussian_classes(50, scale=1.5, seed=2)  # overlapping classes: a well-conditioned optimum
    x = x.double()
    l2 = 1e-2
    fit = fit_logistic_regression(x, y, l2)
    assert objective_gradient(fit.weight, x, y, l2).abs().max() < 1e-8  # first-order optimality
    noise = 1e-3 * torch.randn(fit.weight.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert logistic_objective(fit.weight + noise, x, y, l2) > logistic_objective(fit.weight, x, y, l2)
    sklearn = LogisticRegression(C=sklearn_c_from_l2(l2, len(y)), fit_intercept=False, tol=1e-12, max_iter=10_000)
    sklearn.fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(sklearn.coef_, fit.weight.numpy(), atol=1e-4)
    # the original's lambda = 2.5e-4 / n is scikit-learn's C = 1 / 2.5e-4 whatever n
    assert sklearn_c_from_l2(l2_from_lambda0(2.5e-4, 12_811), 12_811) == pytest.approx(4000)


def test_cyanure_solves_the_same_objective() -> None:
    pytest.importorskip('cyanure')
    x, y, _ = gaussian_classes(50, scale=1.5, seed=3)
    x = x.double()
    reference = fit_logistic_regression(x, y, 1e-2)
    cyanure = fit_logistic_regression(x, y, 1e-2, solver='cyanure', tol=1e-8, max_iter=1000)
    torch.testing.assert_close(cyanure.weight, reference.weight, atol=1e-3, rtol=0)
    assert cyanure.grad_max < 1e-4


def test_sweep_reports_every_lambda_and_the_best() -> None:
    x_train, y_train, _ = gaussian_classes(5, scale=1.0, seed=4)
    x_val, y_val, _ = gaussian_classes(100, scale=1.0, seed=5)
    train, val = prepare_features(x_train, x_val)
    sweep = sweep_lambdas(train, y_train, val, y_val, lambdas=[1e-3, 1.0, 100.0])
    assert [r['lambda0'] for r in sweep['results']] == [1e-3, 1.0, 100.0]
    assert [r['l2'] for r in sweep['results']] == pytest.approx([1e-3 / 15, 1 / 15, 100 / 15])
    assert sweep['best'] == max(sweep['results'], key=lambda r: r['top1'])
    assert all(0 <= r['top1'] <= r['top5'] <= 100 for r in sweep['results'])


def test_prepare_features_centres_with_the_train_mean() -> None:
    train, val = torch.randn(30, 6) + 5, torch.randn(10, 6) + 5
    p_train, p_val = prepare_features(train, val)
    mu = train.mean(0)
    torch.testing.assert_close(p_val, torch.nn.functional.normalize(val - mu, dim=1))
    torch.testing.assert_close(p_train.norm(dim=1), torch.ones(30))
    s_train, _ = prepare_features(train, val, centering='sample')  # the original's cyanure.preprocess(columns=False)
    expected = torch.nn.functional.normalize(train - train.mean(1, keepdim=True), dim=1)
    torch.testing.assert_close(s_train, expected)


def test_feature_cache_is_reused_and_invalidated(tmp_path: Path) -> None:
    x, y, _ = gaussian_classes(10)
    checkpoint, split = tmp_path / 'encoder.pth', tmp_path / 'split.txt'
    torch.save({'state_dict': {}}, checkpoint)
    split.write_text('train/a/1.png 0\n')
    transform = [dict(type='Resize', scale=32)]
    backbone, preprocessor, cache = CountingFlatten(), ClsDataPreprocessor(), tmp_path / 'cache' / 'train.pt'

    def run(key: str) -> tuple[torch.Tensor, torch.Tensor]:
        return extract_features(backbone, toy_loader(x, y), cache, key, data_preprocessor=preprocessor)

    key = feature_cache_key(checkpoint, split, transform)
    first = run(key)
    calls = backbone.calls
    assert calls > 0 and cache.is_file()
    assert torch.load(cache, weights_only=True)['key'] == key
    second = run(feature_cache_key(checkpoint, split, transform))
    assert backbone.calls == calls  # served from the cache
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])

    mtime = checkpoint.stat().st_mtime_ns
    os.utime(checkpoint, ns=(mtime + 10**9, mtime + 10**9))  # the checkpoint changed
    new_key = feature_cache_key(checkpoint, split, transform)
    assert new_key != key
    run(new_key)
    assert backbone.calls > calls  # recomputed, and the cache rewritten for the new key
    assert torch.load(cache, weights_only=True)['key'] == new_key
    assert feature_cache_key(checkpoint, split, [dict(type='Resize', scale=64)]) != new_key
    split.write_text('train/a/2.png 0\n')
    assert feature_cache_key(checkpoint, split, transform) != new_key
    with pytest.raises(ValueError, match='cache_key'):
        extract_features(backbone, toy_loader(x, y), cache, None, data_preprocessor=preprocessor)


def test_multi_head_accuracy_reports_every_probe_and_the_best() -> None:
    metric = MultiHeadAccuracy(topk=(1, 2), lrs=[0.1, 1.0, 10.0], weight_decays=[0.0, 0.0, 1e-6])
    labels = [0, 1, 2, 1]
    # probe 0 always right; probe 1 right on samples 0-1; probe 2 right on 0-2 (top-2 always right)
    probe_preds = [[0, 1, 2, 1], [0, 1, 0, 0], [0, 1, 2, 0]]
    samples = []
    for i, label in enumerate(labels):
        scores = torch.full((3, 3), 0.1)
        for k in range(3):
            scores[k, probe_preds[k][i]] = 0.7
            scores[k, label] = max(scores[k, label].item(), 0.2)
        samples.append(dict(probe_scores=scores, gt_label=torch.tensor([label])))
    metric.process({}, samples)
    metrics = metric.compute_metrics(metric.results)
    assert metrics['top1'] == 100.0 and metrics['top2'] == 100.0
    assert (metrics['best_probe'], metrics['best_lr'], metrics['best_wd']) == (0, 0.1, 0.0)
    assert [metrics[f'probe_{k}/top1'] for k in range(3)] == [100.0, 50.0, 75.0]
    with pytest.raises(ValueError, match='hold 1'):
        MultiHeadAccuracy(topk=(5,))


def test_multi_linear_probe_head_sums_losses_and_predicts_every_probe() -> None:
    head = MultiLinearProbeHead(num_classes=3, in_channels=8, lrs=[0.1, 1.0], weight_decays=[0.0, 1e-4])
    head.init_weights()
    feats = (torch.randn(6, 8),)
    samples = [DataSample().set_gt_label(i % 3) for i in range(6)]
    logits = head(feats)
    assert logits.shape == (2, 6, 3)
    target = torch.arange(6) % 3
    expected = sum(torch.nn.functional.cross_entropy(z, target) for z in logits)
    torch.testing.assert_close(head.loss(feats, samples)['loss'], expected)
    head.eval()
    predicted = head.predict(feats, samples)
    assert predicted[0].probe_scores.shape == (2, 3)
    torch.testing.assert_close(predicted[0].pred_score, predicted[0].probe_scores[0])


def test_sweep_config_gives_each_probe_its_own_lr_and_weight_decay() -> None:
    cfg = Config.fromfile(BENCHMARKS / 'linear-sweep_lgp-vit-nano_digits.py')
    model = MODELS.build(cfg.model)
    head = model.head
    assert head.num_probes == 16 and len(set(zip(head.lrs, head.weight_decays, strict=True))) == 16
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    group_of = {id(p): g for g in optimizer.param_groups for p in g['params']}
    assert not any(id(p) in group_of for p in model.backbone.parameters())  # the frozen encoder is not optimised
    for k, probe in enumerate(head.probes):
        weight_group, bias_group = group_of[id(probe.weight)], group_of[id(probe.bias)]
        assert weight_group['lr'] == pytest.approx(head.lrs[k]) and bias_group['lr'] == pytest.approx(head.lrs[k])
        assert weight_group['weight_decay'] == pytest.approx(head.weight_decays[k]) and bias_group['weight_decay'] == 0
    # one SGD step moves each probe by its own lr: delta = -lr_k * (grad_k + wd_k * W_k)
    model.train()
    before = [p.weight.detach().clone() for p in head.probes]
    loss = head.loss((torch.randn(8, 48),), [DataSample().set_gt_label(i % 10) for i in range(8)])['loss']
    loss.backward()
    grads = [p.weight.grad.clone() for p in head.probes]
    optimizer.step()
    for k, probe in enumerate(head.probes):
        expected = before[k] - head.lrs[k] * (grads[k] + head.weight_decays[k] * before[k])
        torch.testing.assert_close(probe.weight.detach(), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ('config', 'decay'),
    [('finetune_lgp-vit-b_8xb128-100e_in1k.py', 0.6), ('fewshot10_lgp-vit-b_8xb32-200e_in1k.py', 0.75)],
)
def test_vit_b_layer_decay_multipliers(config: str, decay: float) -> None:
    cfg = Config.fromfile(BENCHMARKS / config)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
    optim_cfg.pop('dtype', None)
    optimizer = build_optim_wrapper(model, optim_cfg).optimizer
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
    assert checked == len(list(backbone.parameters())) - 1
    assert all(lr_of[id(p)] == pytest.approx(base_lr) for p in model.head.parameters())


@pytest.fixture(scope='module')
def nano_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An lgp MoCo v3 checkpoint of the nano ViT (random weights; projector BN statistics made non-trivial)."""
    model = MODELS.build(Config.fromfile(REPO_ROOT / 'configs' / '_base_' / 'models' / 'mocov3_vit_nano.py').model)
    with torch.no_grad():
        model.neck.bn0.running_mean.uniform_(-1, 1)
        model.neck.bn0.running_var.uniform_(0.5, 2)
        model.neck.bn0.weight.uniform_(0.5, 2)
    path = tmp_path_factory.mktemp('nano') / 'mocov3_nano.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def test_projector_cls_head_loads_the_projector_strictly(nano_checkpoint: Path) -> None:
    state_dict = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    head = ProjectorClsHead(10, 48, hid_channels=128, init_cfg=dict(type='Pretrained', checkpoint=str(nano_checkpoint)))
    head.init_weights()
    for name, value in head.state_dict().items():
        if name.startswith(('fc0.', 'bn0.')):
            assert torch.equal(value, state_dict[f'neck.{name}']), name
    assert head.fc.weight.abs().max() < 1e-4 and not head.fc.bias.any()  # the new layer: trunc-normal, std 2e-5
    # the same weights in the official MoCo v3 / original release layout
    mocov3 = {
        f'module.base_encoder.head.{"0" if k.startswith("neck.fc0") else "1"}.{k.split(".", 2)[2]}': v
        for k, v in state_dict.items()
        if k.startswith(('neck.fc0.', 'neck.bn0.'))
    }
    other = ProjectorClsHead(10, 48, hid_channels=128)
    other.load_projector({'state_dict': mocov3})
    assert torch.equal(other.bn0.running_var, head.bn0.running_var) and torch.equal(other.fc0.weight, head.fc0.weight)
    plain = ProjectorClsHead(10, 48, hid_channels=128, with_norm_act=False)  # the original release's head
    plain.load_projector(str(nano_checkpoint))
    assert torch.equal(plain.fc0.weight, head.fc0.weight) and not hasattr(plain, 'bn0')


def test_projector_cls_head_errors_name_what_is_missing(nano_checkpoint: Path) -> None:
    state_dict = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    backbone_only = {k: v for k, v in state_dict.items() if k.startswith('backbone.')}
    with pytest.raises(CheckpointMismatchError, match='no projector found') as err:
        ProjectorClsHead(10, 48, hid_channels=128).load_projector({'state_dict': backbone_only})
    assert 'fc0.weight' in str(err.value) and 'bn0.running_var' in str(err.value)
    partial = {k: v for k, v in state_dict.items() if k != 'neck.bn0.running_var'}
    head = ProjectorClsHead(10, 48, hid_channels=128)
    before = head.fc0.weight.detach().clone()
    with pytest.raises(CheckpointMismatchError, match=r'missing in the checkpoint \(1\): bn0.running_var'):
        head.load_projector({'state_dict': partial})
    assert torch.equal(head.fc0.weight, before)  # nothing loaded
    with pytest.raises(
        CheckpointMismatchError, match=r'shape of fc0.weight: checkpoint \(128, 48\) vs model \(64, 48\)'
    ):
        ProjectorClsHead(10, 48, hid_channels=64).load_projector(str(nano_checkpoint))


def run_options(digits_root: Path, checkpoint: Path, max_epochs: int = 1) -> list[str]:
    """``--cfg-options`` for a 1-epoch CPU run on 64 digits, evaluated on the 360 val digits, without workers."""
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


def train_then_test(config: str, digits_root: Path, checkpoint: Path, work_dir: Path, run_tool) -> dict:
    """tools/train.py for one epoch, then tools/test.py on its checkpoint; returns the metrics test.py printed."""
    options = run_options(digits_root, checkpoint)
    run_tool(['tools/train.py', str(BENCHMARKS / config), '--work-dir', str(work_dir), *options])
    metrics_file = work_dir / 'metrics.json'
    result = run_tool(
        [
            'tools/test.py',
            str(BENCHMARKS / config),
            str(work_dir / 'epoch_1.pth'),
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
    metrics = train_then_test('finetune_lgp-vit-nano_digits.py', digits_root, nano_checkpoint, tmp_path, run_tool)
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    trained = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    pretrained = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    assert not torch.equal(
        trained['backbone.layers.0.attn.qkv.weight'], pretrained['backbone.layers.0.attn.qkv.weight']
    )


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
    per_probe = [metrics[f'multi_head/probe_{k}/top1'] for k in range(16)]
    best = metrics['multi_head/best_probe']
    assert metrics['multi_head/top1'] == max(per_probe) == per_probe[best]
    assert metrics['multi_head/best_lr'] == pytest.approx(model.head.lrs[best])
    assert metrics['multi_head/best_wd'] == pytest.approx(model.head.weight_decays[best])


def test_fewshot10_twin_loads_the_projector_and_trains(digits_root: Path, nano_checkpoint: Path) -> None:
    """One training step of the 10 % config, in process: split file, pipeline, projector head, layer-decay optimiser."""
    cfg = Config.fromfile(BENCHMARKS / 'fewshot10_lgp-vit-nano_digits.py')
    cfg.model.backbone.init_cfg.checkpoint = cfg.model.head.init_cfg.checkpoint = str(nano_checkpoint)
    cfg.model.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(cfg.model)
    model.init_weights()
    pretrained = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    assert torch.equal(model.head.fc0.weight, pretrained['neck.fc0.weight'])
    assert torch.equal(model.head.bn0.running_mean, pretrained['neck.bn0.running_mean'])
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


def test_fewshot_eval_tool_end_to_end(digits_root: Path, nano_checkpoint: Path, tmp_path: Path, run_tool) -> None:
    command = [
        'tools/fewshot_eval.py',
        str(BENCHMARKS / 'linear_lgp-vit-nano_digits.py'),
        str(nano_checkpoint),
        '--split',
        'meta/train_1percent.txt',
        '--lambdas',
        '2.5e-4',
        '2.5e-2',
        '--cache-dir',
        str(tmp_path / 'cache'),
        '--work-dir',
        str(tmp_path),
        '--cfg-options',
        f'test_dataloader.dataset.data_root={digits_root}',
        'test_dataloader.num_workers=0',
    ]
    result = run_tool(command)
    assert '14 training / 360 val images' in result.stdout
    best = re.search(r'best: lambda_0 (\S+): top-1 ([\d.]+), top-5 ([\d.]+)', result.stdout)
    assert best is not None and 0 <= float(best.group(2)) <= float(best.group(3)) <= 100
    saved = json.loads((tmp_path / 'fewshot_results.json').read_text())
    assert [r['lambda0'] for r in saved['results']] == [2.5e-4, 2.5e-2]
    assert saved['best']['top1'] == pytest.approx(float(best.group(2)), abs=0.01)
    assert len(list((tmp_path / 'cache').glob('*.pt'))) == 2  # train and val features cached
