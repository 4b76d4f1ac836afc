"""ADE20K segmentation transfer through mmseg, run as real processes: the digits ADE20K set written by
tools/dataset_converters/digits_to_ade20k.py, the nano twin config through tools/train.py, tools/test.py,
tools/dist_train.sh and mmseg's own inference API.

The twin runs 4 iterations of batch 4 on 32 training canvases of 64x64 (the warm-up shortened to 2 iterations: a run
must outlast it) and tests on 12, starting from an lgp pre-training checkpoint of the nano LGPViT at 32 px (its
position embedding is resized from 8x8 to 16x16 patches).
"""

import math
import re
import socket
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import DATASETS
from PIL import Image
from scalars import logged_scalars

import lgp  # noqa: F401  (registrations; safe-load allow-list for mmengine checkpoints)
from lgp.datasets import DIGIT_CLASSES
from lgp.datasets.digits_ade20k import ADE_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/segmentation/upernet_lgp-vit-nano_digits-seg.py'
NUM_TRAIN, NUM_VAL = 32, 12


def free_port() -> int:
    """A TCP port that was free a moment ago, for the torchrun master."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def seg_options(root: Path, checkpoint: Path, max_iters: int, warm_up: int, batch_size: int = 4) -> list[str]:
    """``--cfg-options`` for a short twin run on ``root``, from ``checkpoint``, validating and saving at the end; the
    warm-up shortened to ``warm_up`` iterations (the poly decay ends with the run)."""
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'model.backbone.init_cfg.checkpoint={checkpoint}',
        f'train_dataloader.batch_size={batch_size}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'param_scheduler.0.end={warm_up}',
        f'param_scheduler.1.begin={warm_up}',
        'default_hooks.logger.interval=1',
    ]


def logged_losses(work_dir: Path) -> list[float]:
    """The total losses logged in ``work_dir``, in iteration order."""
    return [r['loss'] for r in logged_scalars(work_dir) if 'loss' in r]


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory: pytest.TempPathFactory, run_tool) -> Path:
    """The digits ADE20K set written by the CLI (seed 0): ``ADEChallengeData2016`` with 32 / 12 canvases of 64 px."""
    out_dir = tmp_path_factory.mktemp('digits_ade')
    converter = ['tools/dataset_converters/digits_to_ade20k.py', str(out_dir)]
    result = run_tool([*converter, '--num-train', str(NUM_TRAIN), '--num-val', str(NUM_VAL)])
    printed = dict(re.findall(r'^(training|validation): (\d+) images', result.stdout, re.MULTILINE))
    assert printed == {'training': str(NUM_TRAIN), 'validation': str(NUM_VAL)}
    return out_dir / ADE_DIR


@pytest.fixture(scope='module')
def nano_pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An lgp pre-training checkpoint: the state dict of configs/grafted_vit-nano_digits.py's GraftedMoCoV3 (32 px)."""
    init_default_scope('mmpretrain')
    model = MMPRETRAIN_MODELS.build(Config.fromfile(REPO_ROOT / 'configs/grafted_vit-nano_digits.py').model)
    path = tmp_path_factory.mktemp('pretrained') / 'grafted_nano.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def tiny_run(ade_root: Path, nano_pretrained: Path, tmp_path_factory: pytest.TempPathFactory, run_tool) -> tuple:
    """(work dir, output) of a 4-iteration twin run through tools/train.py."""
    work_dir = tmp_path_factory.mktemp('seg_train')
    options = seg_options(ade_root, nano_pretrained, max_iters=4, warm_up=2)
    result = run_tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), *options])
    return work_dir, result.stdout + result.stderr


def test_cli_set_has_every_digit_and_ade20k_label_convention(ade_root: Path) -> None:
    """Labels d + 1 in the files; mmseg's dataset reduces them to classes d and 0 to the ignore index 255."""
    annotations = {split: sorted((ade_root / 'annotations' / split).iterdir()) for split in ('training', 'validation')}
    assert (len(annotations['training']), len(annotations['validation'])) == (NUM_TRAIN, NUM_VAL)
    labels = []
    for path in annotations['training']:
        with Image.open(path) as png:
            labels.append(np.asarray(png))
    assert set(np.unique(np.stack(labels))) == set(range(11))
    init_default_scope('mmseg')
    cfg = Config.fromfile(REPO_ROOT / CONFIG)
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=str(ade_root)))
    assert len(dataset) == NUM_VAL and dataset.metainfo['classes'] == DIGIT_CLASSES
    sample = dataset[0]
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    with Image.open(sample['data_samples'].seg_map_path) as png:
        raw = np.asarray(png).astype(int)
    assert np.array_equal(gt, np.where(raw == 0, 255, raw - 1))


def test_tiny_config_trains_from_lgp_checkpoint_and_tests(tiny_run: tuple, ade_root: Path, run_tool) -> None:
    work_dir, output = tiny_run
    # strict load of the online encoder inside the mmseg model, position embedding resized 8x8 -> 16x16 patches
    assert 'Loaded 78 backbone tensors from' in output and "(layout 'mmengine', online encoder)" in output
    assert 'Resize the pos_embed shape from torch.Size([1, 65, 48]) to torch.Size([1, 257, 48])' in output
    losses = logged_losses(work_dir)
    assert len(losses) == 4 and all(math.isfinite(loss) and loss > 0 for loss in losses)
    checkpoint = work_dir / 'iter_4.pth'
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')
    test = ['tools/test.py', CONFIG, str(checkpoint), '--work-dir', str(work_dir / 'test')]
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={ade_root}']
    result = run_tool([*test, '--out', str(work_dir / 'metrics.json'), '--out-item', 'metrics', *options])
    printed = re.search(
        rf'Iter\(test\) \[{NUM_VAL}/{NUM_VAL}\]\s+aAcc: ([\d.]+)\s+mIoU: ([\d.]+)', result.stdout + result.stderr
    )
    assert printed is not None, (result.stdout + result.stderr)[-3000:]
    miou = float(printed.group(2))
    assert 0.0 <= miou <= 100.0
    assert mmengine.load(work_dir / 'metrics.json')['mIoU'] == pytest.approx(miou, abs=0.005)  # float32, 2 decimals
    assert all(f'| {name} |' in result.stdout + result.stderr for name in DIGIT_CLASSES)


def test_mmseg_inference_api_segments_an_image(tiny_run: tuple, ade_root: Path) -> None:
    from mmseg.apis import inference_model, init_model

    work_dir, _ = tiny_run
    checkpoint = work_dir / 'iter_4.pth'
    model = init_model(str(REPO_ROOT / CONFIG), str(checkpoint), device='cpu')
    saved = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    state = model.state_dict()
    assert set(state) == set(saved) and all(torch.equal(state[k], saved[k]) for k in saved)
    assert model.dataset_meta['classes'] == DIGIT_CLASSES
    image_path = sorted((ade_root / 'images' / 'validation').iterdir())[0]
    result = inference_model(model, str(image_path))
    assert tuple(result.pred_sem_seg.data.shape) == (1, 64, 64)
    # a BGR array of another shape (as mmcv loads it): resized for the model, predicted back at its own size
    with Image.open(image_path) as image:
        array = np.ascontiguousarray(np.asarray(image)[4:60, :, ::-1])
    pred = inference_model(model, array).pred_sem_seg.data
    assert tuple(pred.shape) == (1, 56, 64) and 0 <= pred.min() and pred.max() < len(DIGIT_CLASSES)


def test_dist_train_two_cpu_processes(ade_root: Path, nano_pretrained: Path, tmp_path: Path, run_tool) -> None:
    command = ['tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path)]
    env = {'PORT': str(free_port()), 'CUDA_VISIBLE_DEVICES': ''}
    options = seg_options(ade_root, nano_pretrained, max_iters=2, warm_up=1, batch_size=2)
    result = run_tool([*command, *options], env=env)
    output = result.stdout + result.stderr
    assert "'backend': 'gloo'" in output and 'Distributed training: True' in output
    checkpoint = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    assert re.search(r'Iter\(val\) \[\d+/\d+\]\s+aAcc: [\d.]+\s+mIoU: [\d.]+', output)
    assert all(math.isfinite(loss) for loss in logged_losses(tmp_path))
