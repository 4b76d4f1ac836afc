"""KNNMonitorHook (lgp.engine.hooks.knn_monitor_hook): a run with it trains exactly as one without; it logs knn/top1
before training, every ``interval`` epochs and after the last; the value is the kNN top-1 of features extracted
independently; its data follow the training data; every study run has it once."""

import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import RUNNERS
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import HOOKS, MODELS
from PIL import Image
from scalars import logged_scalars
from torch.utils.data import DataLoader, Subset

from lgp.engine import KNNMonitorHook, load_config
from lgp.engine.hooks.knn_monitor_hook import encode_cls_tokens, evenly_spaced
from lgp.evaluation import extract_features, knn_top1
from lgp.models import LGPViT

REPO = Path(__file__).resolve().parents[3]
CONFIG = 'configs/study/mae_vit_nano_digits.py'
TRAIN_IMAGES, VAL_IMAGES = 60, 30


def tiny_mae_run(digits_root: Path, work_dir: Path, monitor: bool) -> Config:
    """The study's MAE run on 16 images, 3 epochs of 2 iterations, in this process; the monitor on 60 train and 30
    val images every 2 epochs, or no custom hook. Without the per-epoch reseeding, so that any random number the
    monitor drew would shift the MAE masks of the following epochs."""
    cfg = load_config(
        CONFIG,
        {
            'train_dataloader.dataset.data_root': str(digits_root),
            'train_dataloader.dataset.indices': 16,
            'train_dataloader.batch_size': 8,
            'train_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False,
            'train_cfg.max_epochs': 3,
            'randomness.seed': 0,
            'randomness.deterministic': True,
            'custom_hooks.0.max_train_images': TRAIN_IMAGES,
            'custom_hooks.0.max_val_images': VAL_IMAGES,
            'custom_hooks.0.interval': 2,
            'work_dir': str(work_dir),
            'experiment_name': f'knn_{uuid.uuid4().hex}',  # a visualiser of its own
        },
    )
    cfg.default_hooks.pop('epoch_seed')
    if not monitor:
        cfg.custom_hooks = []
    return cfg


@pytest.fixture(scope='module')
def runs(digits_root, tmp_path_factory) -> dict:
    """Both runs trained: ``{'with': runner, 'without': runner}``."""
    runners = {}
    for name, monitor in (('with', True), ('without', False)):
        runner = RUNNERS.build(tiny_mae_run(digits_root, tmp_path_factory.mktemp(name), monitor))
        runner.train()
        runners[name] = runner
    return runners


def test_a_run_with_the_monitor_ends_with_the_weights_of_one_without(runs):
    a, b = (runs[name].model.state_dict() for name in ('with', 'without'))
    assert a.keys() == b.keys()
    differing = [k for k, v in a.items() if not torch.equal(v, b[k])]
    assert not differing, f'{len(differing)} of {len(a)} tensors differ: {differing[:3]}'
    optimiser_a, optimiser_b = (runs[name].optim_wrapper.state_dict()['state'] for name in ('with', 'without'))
    assert all(torch.equal(v, optimiser_b[p][n]) for p, state in optimiser_a.items() for n, v in state.items())
    assert runs['with'].model.training


def test_knn_top1_is_logged_before_training_every_interval_and_after_the_last_epoch(runs):
    records = [r for r in logged_scalars(Path(runs['with'].work_dir)) if 'knn/top1' in r]
    assert [r['step'] for r in records] == [0, 4, 6]  # epochs 0, 2 and 3 (the last), 2 iterations each
    assert all(0.0 <= r['knn/top1'] <= 100.0 for r in records)
    assert not [r for r in logged_scalars(Path(runs['without'].work_dir)) if 'knn/top1' in r]


def test_logged_value_is_the_knn_top1_of_independently_extracted_features(runs, digits_root):
    model = runs['with'].model
    pipeline = Config.fromfile(REPO / 'configs/benchmarks/_base_/datasets/digits_linear.py').test_pipeline
    features = {}
    for split, count in (('train', TRAIN_IMAGES), ('val', VAL_IMAGES)):
        dataset = CustomDataset(data_root=str(digits_root), ann_file=f'meta/{split}.txt', pipeline=pipeline)
        subset = Subset(dataset, [i * len(dataset) // count for i in range(count)])
        loader = DataLoader(subset, batch_size=7, collate_fn=default_collate)
        features[split] = extract_features(model.backbone, loader, data_preprocessor=model.data_preprocessor)
    (train, train_labels), (val, val_labels) = features['train'], features['val']
    expected = knn_top1(train, train_labels, val, val_labels, k=20, temperature=0.07)
    (last,) = [r for r in logged_scalars(Path(runs['with'].work_dir)) if r.get('step') == 6 and 'knn/top1' in r]
    assert last['knn/top1'] == pytest.approx(expected, abs=1e-9)


def test_encoding_restores_every_modules_mode_and_takes_the_normed_cls_token(digits_root):
    torch.manual_seed(0)
    backbone = LGPViT('nano', img_size=32, out_type='raw', frozen_stages=2)
    backbone.init_weights()
    backbone.train()
    modes = {name: m.training for name, m in backbone.named_modules()}
    preprocessor = MODELS.build(load_config(CONFIG).data_preprocessor)
    pipeline = Config.fromfile(REPO / 'configs/benchmarks/_base_/datasets/digits_linear.py').test_pipeline
    dataset = CustomDataset(data_root=str(digits_root), ann_file='meta/val.txt', pipeline=pipeline)
    loader = DataLoader(Subset(dataset, range(5)), batch_size=5, collate_fn=default_collate)
    features, labels = encode_cls_tokens(backbone, preprocessor, loader)
    assert {name: m.training for name, m in backbone.named_modules()} == modes
    backbone.eval()
    batch = preprocessor(next(iter(loader)), False)
    torch.testing.assert_close(features, backbone(batch['inputs'])[0][:, 0])  # raw tokens after the final norm
    assert torch.equal(labels, torch.cat([s.gt_label for s in batch['data_samples']]))


def test_evenly_spaced_subsets_keep_a_class_sorted_list_balanced():
    labels = [i // 100 for i in range(1000)]  # 10 classes, sorted
    indices = evenly_spaced(1000, 50)
    assert len(set(indices)) == 50
    assert [sum(labels[i] == c for i in indices) for c in range(10)] == [5] * 10
    assert evenly_spaced(7, None) == evenly_spaced(7, 100) == list(range(7))


def fake_runner(data_root: str | None, iteration: int = 0) -> SimpleNamespace:
    train_dataset = {} if data_root is None else dict(data_root=data_root)
    return SimpleNamespace(
        cfg=Config(dict(train_dataloader=dict(dataset=train_dataset))),
        model=SimpleNamespace(backbone=LGPViT('nano', img_size=32)),
        iter=iteration,
    )


def monitor(**kwargs) -> KNNMonitorHook:
    dataset = dict(type=CustomDataset, ann_file='meta/val.txt', data_prefix='', pipeline=[])
    return KNNMonitorHook(**{'train_dataset': dataset, 'val_dataset': dataset, **kwargs})


def test_data_follow_the_training_data_root_unless_given(digits_root, tmp_path):
    hook = monitor(max_train_images=40, eval_at_start=False)
    hook.before_train(fake_runner(str(digits_root)))
    assert Path(hook.dataloaders['train'].dataset.dataset.data_root) == digits_root
    assert len(hook.dataloaders['train'].dataset) == 40 and len(hook.dataloaders['val'].dataset) == 360
    hook.dataset_cfgs['val'] = dict(hook.dataset_cfgs['val'], data_root=str(digits_root))
    with pytest.raises(FileNotFoundError, match='could not build its train data set .* set train_dataset.data_root'):
        hook.before_train(fake_runner(str(tmp_path)))


def test_a_resumed_run_is_not_evaluated_at_start(digits_root, monkeypatch):
    evaluated = []
    monkeypatch.setattr(KNNMonitorHook, 'evaluate', lambda self, runner, epoch: evaluated.append(epoch))
    monitor().before_train(fake_runner(str(digits_root), iteration=10))
    assert evaluated == []
    monitor().before_train(fake_runner(str(digits_root), iteration=0))
    assert evaluated == [0]


def test_bad_settings_are_refused(digits_root):
    with pytest.raises(ValueError, match='interval must be >= 1, got 0'):
        monitor(interval=0)
    with pytest.raises(ValueError, match='max_val_images must be >= 1 or None'):
        monitor(max_val_images=0)
    with pytest.raises(ValueError, match='10 train images for k=20 neighbours: lower k or raise max_train_images'):
        monitor(max_train_images=10).before_train(fake_runner(str(digits_root)))
    runner = fake_runner(str(digits_root))
    runner.model = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match='model.backbone.forward_tokens .* Linear has no such backbone'):
        monitor().before_train(runner)


STUDY_RUNS = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs/study').glob('*_vit_nano_digits.py'))


@pytest.mark.parametrize('config', STUDY_RUNS)
def test_every_study_run_has_the_monitor_once_following_its_data(config):
    cfg = Config.fromfile(REPO / config)
    monitors = [h for h in cfg.get('custom_hooks', []) if h['type'] in (KNNMonitorHook, 'KNNMonitorHook')]
    assert len(monitors) == 1
    assert all('data_root' not in monitors[0][split] for split in ('train_dataset', 'val_dataset'))


def test_imagenet_form_builds_class_balanced_subsets_under_the_training_data_root(tmp_path):
    # an ImageNet-style root with meta/{train,val}.txt (mmpretrain's layout), 3 classes, class-sorted lists
    (tmp_path / 'meta').mkdir()
    for split, per_class in (('train', 30), ('val', 10)):
        lines = []
        for label, wnid in enumerate(('n01', 'n02', 'n03')):
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(tmp_path / split / wnid / f'{i}.png')
                lines.append(f'{wnid}/{i}.png {label}\n')
        (tmp_path / 'meta' / f'{split}.txt').write_text(''.join(lines))
    (hook_cfg,) = Config.fromfile(REPO / 'configs/_base_/knn_monitor_imagenet.py').custom_hooks
    assert (hook_cfg.interval, hook_cfg.max_train_images, hook_cfg.max_val_images) == (10, 10000, 10000)
    hook = HOOKS.build(dict(hook_cfg, max_train_images=30, max_val_images=6, eval_at_start=False, num_workers=0))
    hook.before_train(fake_runner(str(tmp_path)))
    for split, per_class in (('train', 10), ('val', 2)):
        subset = hook.dataloaders[split].dataset
        labels = sorted(subset.dataset.get_data_info(i)['gt_label'] for i in subset.indices)
        assert labels == sorted([0, 1, 2] * per_class)
    assert next(iter(hook.dataloaders['val']))['inputs'].shape == (6, 3, 224, 224)
