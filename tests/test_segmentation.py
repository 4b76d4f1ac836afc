"""ADE20K segmentation transfer through mmseg: the digits ADE20K writer, the nano twin config through tools/train.py,
tools/test.py, tools/dist_train.sh and mmseg's own inference API, and the full ViT-B / ViT-L configs (feature shapes,
layer decay, strict loading of an lgp pre-training checkpoint) built without training.

The twin runs 4 iterations of batch 4 on 32 training canvases of 64x64 and tests on 12, starting from an lgp
pre-training checkpoint of the nano LGPViT at 32 px (its position embedding is resized from 8x8 to 16x16 patches).
"""

import copy
import math
import re
import socket
from pathlib import Path

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import DATASETS
from mmseg.registry import MODELS as MMSEG_MODELS
from PIL import Image
from scalars import logged_scalars

import lgp  # noqa: F401  (registrations; safe-load allow-list for mmengine checkpoints)
from lgp.datasets import DIGIT_CLASSES, write_digits_ade20k
from lgp.datasets.digits_ade20k import ADE_DIR
from lgp.models import LGPViT
from lgp.models.checkpoint import CheckpointMismatchError, load_backbone_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/segmentation/upernet_lgp-vit-nano_digits-seg.py'
VIT_B_CONFIG = 'configs/segmentation/upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py'
VIT_L_CONFIG = 'configs/segmentation/upernet_lgp-vit-l_8xb2-160k_ade20k-512x512.py'
NUM_TRAIN, NUM_VAL = 32, 12
NO_DECAY_NAMES = ('pos_embed', 'cls_token')


def free_port() -> int:
    """A TCP port that was free a moment ago, for the torchrun master."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def read_split(root: Path, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, label map) pairs of a split of an ADE20K-layout folder, checking the files' formats."""
    pairs = []
    images = sorted((root / 'images' / split).iterdir())
    assert [p.stem for p in images] == sorted(p.stem for p in (root / 'annotations' / split).iterdir())
    for path in images:
        with Image.open(path) as image, Image.open(root / 'annotations' / split / f'{path.stem}.png') as label:
            assert (path.suffix, image.format, image.mode) == ('.jpg', 'JPEG', 'RGB')
            assert (label.format, label.mode, label.size) == ('PNG', 'L', image.size)
            pairs.append((np.asarray(image), np.asarray(label)))
    return pairs


def seg_options(root: Path, checkpoint: Path, max_iters: int, batch_size: int = 4) -> list[str]:
    """``--cfg-options`` for a short twin run on ``root``, from ``checkpoint``, validating and saving at the end."""
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'model.backbone.init_cfg.checkpoint={checkpoint}',
        f'train_dataloader.batch_size={batch_size}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
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
    result = run_tool(
        ['tools/train.py', CONFIG, '--work-dir', str(work_dir), *seg_options(ade_root, nano_pretrained, 4)]
    )
    return work_dir, result.stdout + result.stderr


def test_writer_layout_labels_and_determinism(tmp_path: Path) -> None:
    counts = write_digits_ade20k(tmp_path / 'a', size=48, num_train=6, num_val=3, seed=1)
    root = tmp_path / 'a' / ADE_DIR
    assert {split: c['images'] for split, c in counts.items()} == {'training': 6, 'validation': 3}
    for split, prefix in (('training', 'ADE_train'), ('validation', 'ADE_val')):
        pairs = read_split(root, split)
        names = sorted(p.name for p in (root / 'images' / split).iterdir())
        assert names == [f'{prefix}_{i:08d}.jpg' for i in range(1, len(pairs) + 1)]
        assert counts[split]['images'] <= counts[split]['digits'] <= 3 * counts[split]['images']
        for image, label in pairs:
            assert image.shape == (48, 48, 3) and label.dtype == np.uint8
            assert set(np.unique(label)) <= set(range(11)) and (label > 0).any() and (label == 0).any()
            # labelled pixels are the bright strokes of the digits on the dark background
            brightness = image.mean(axis=-1)
            assert brightness[label > 0].mean() > brightness[label == 0].mean() + 60
    write_digits_ade20k(tmp_path / 'b', size=48, num_train=6, num_val=3, seed=1)
    write_digits_ade20k(tmp_path / 'c', size=48, num_train=6, num_val=3, seed=2)
    files = sorted(p.relative_to(root) for p in root.rglob('*.*'))
    assert all((root / f).read_bytes() == (tmp_path / 'b' / ADE_DIR / f).read_bytes() for f in files)
    assert any((root / f).read_bytes() != (tmp_path / 'c' / ADE_DIR / f).read_bytes() for f in files)
    with pytest.raises(ValueError, match='size'):
        write_digits_ade20k(tmp_path / 'd', size=8)


def test_cli_set_has_every_digit_and_ade20k_label_convention(ade_root: Path) -> None:
    """Labels d + 1 in the files; mmseg's dataset reduces them to classes d and 0 to the ignore index 255."""
    labels = [label for _, label in read_split(ade_root, 'training')]
    assert len(labels) == NUM_TRAIN and len(read_split(ade_root, 'validation')) == NUM_VAL
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


def build_on_meta(config: str) -> tuple[Config, torch.nn.Module]:
    """A segmentation config and its model, built on the meta device (shapes only, nothing allocated)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(REPO_ROOT / config)
    with torch.device('meta'):
        model = MMSEG_MODELS.build(cfg.model)
    return cfg, model


def check_layer_decay(cfg: Config, model: torch.nn.Module, decay: float) -> None:
    """Every backbone parameter at lr * decay ** (L + 1 - layer_id), the rest at lr; no weight decay on the
    embedding tokens and on 1-D parameters (norms, biases); everything trainable is optimised."""
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.pop('dtype')
    wrapper_cfg.type = 'OptimWrapper'  # AmpOptimWrapper needs a GPU; the param groups are the same
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
    assert (cfg.optim_wrapper.dtype, cfg.optim_wrapper.paramwise_cfg) == ('bfloat16', dict(layer_decay=0.65))
    warmup, poly = cfg.param_scheduler
    assert (warmup.start_factor, warmup.end, poly.begin, poly.end, poly.power, poly.eta_min) == (
        1e-6,
        1500,
        1500,
        160000,
        1.0,
        0.0,
    )
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


def test_vit_b_backbone_loads_lgp_pretraining_checkpoint_strictly(tmp_path: Path) -> None:
    """A 224-px lgp pre-training checkpoint (online + momentum encoder, projector) into the 512-px ViT-B backbone."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(REPO_ROOT / VIT_B_CONFIG)
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


def test_dist_train_two_cpu_processes(ade_root: Path, nano_pretrained: Path, tmp_path: Path, run_tool) -> None:
    command = ['tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path)]
    env = {'PORT': str(free_port()), 'CUDA_VISIBLE_DEVICES': ''}
    result = run_tool([*command, *seg_options(ade_root, nano_pretrained, 2, batch_size=2)], env=env)
    output = result.stdout + result.stderr
    assert "'backend': 'gloo'" in output and 'Distributed training: True' in output
    checkpoint = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    assert re.search(r'Iter\(val\) \[\d+/\d+\]\s+aAcc: [\d.]+\s+mIoU: [\d.]+', output)
    assert all(math.isfinite(loss) for loss in logged_losses(tmp_path))
