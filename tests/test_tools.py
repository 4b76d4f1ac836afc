"""tools/train.py, tools/test.py and tools/dist_train.sh on the quick-start config, run as real processes.

Training runs use the first 64 digits in batches of 32 (2 iterations an epoch) to stay fast on two CPU cores.
"""

import math
import socket
from pathlib import Path

import mmengine
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from scalars import logged_scalars

import lgp  # noqa: F401  (safe-load allow-list for mmengine checkpoints)
from lgp.engine import CPUAmpOptimWrapper, enable_amp, setup_cpu_distributed

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/mae_vit-nano_digits.py'


def free_port() -> int:
    """A TCP port that was free a moment ago, for the torchrun master."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def small_run_options(digits_root: Path, max_epochs: int, batch_size: int = 32) -> list[str]:
    """``--cfg-options`` for a short run on the first 64 training digits, logging every iteration."""
    return [
        '--cfg-options',
        f'train_cfg.max_epochs={max_epochs}',
        f'train_dataloader.batch_size={batch_size}',
        f'train_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=64',
        'default_hooks.logger.interval=1',
    ]


def load_checkpoint(path: Path) -> dict:
    """Load an mmengine checkpoint the safe way (``weights_only=True``, with lgp's allow-list)."""
    return torch.load(path, map_location='cpu', weights_only=True)


def adamw_steps(checkpoint: dict) -> set[int]:
    """The step counts held in the optimiser state of ``checkpoint``."""
    return {int(state['step']) for state in checkpoint['optimizer']['state'].values()}


@pytest.fixture(scope='module')
def one_epoch_run(digits_root: Path, tmp_path_factory: pytest.TempPathFactory, run_tool) -> Path:
    """Work dir of a 1-epoch (2-iteration) quick-start run."""
    work_dir = tmp_path_factory.mktemp('train')
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), *small_run_options(digits_root, 1)])
    return work_dir


def test_train_logs_finite_losses_and_saves_checkpoint(one_epoch_run: Path) -> None:
    records = [r for r in logged_scalars(one_epoch_run) if 'loss' in r]
    assert [r['iter'] for r in records] == [1, 2]
    assert all(math.isfinite(r['loss']) and r['loss'] > 0 for r in records)
    assert (one_epoch_run / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    checkpoint = load_checkpoint(one_epoch_run / 'epoch_1.pth')
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (1, 2)
    assert adamw_steps(checkpoint) == {2}
    assert any(key.startswith('backbone.layers.5.') for key in checkpoint['state_dict'])
    assert any(key.startswith('neck.decoder_blocks.1.') for key in checkpoint['state_dict'])


def test_resume_auto_continues_with_optimizer_state(one_epoch_run: Path, digits_root: Path, run_tool) -> None:
    result = run_tool(
        ['tools/train.py', CONFIG, '--work-dir', str(one_epoch_run), '--resume', *small_run_options(digits_root, 2)]
    )
    assert 'resumed epoch: 1, iter: 2' in result.stdout + result.stderr
    checkpoint = load_checkpoint(one_epoch_run / 'epoch_2.pth')
    assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (2, 4)
    assert adamw_steps(checkpoint) == {4}
    resumed = [r['iter'] for r in logged_scalars(one_epoch_run) if 'loss' in r]
    assert resumed[-2:] == [3, 4]


def test_amp_on_cpu_trains_in_bfloat16(tmp_path: Path, digits_root: Path, run_tool) -> None:
    run_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path), '--amp', *small_run_options(digits_root, 1)])
    dumped = (tmp_path / Path(CONFIG).name).read_text()
    assert "'CPUAmpOptimWrapper'" in dumped and "'bfloat16'" in dumped
    assert all(math.isfinite(r['loss']) for r in logged_scalars(tmp_path) if 'loss' in r)


def test_dist_train_two_cpu_processes(tmp_path: Path, digits_root: Path, run_tool) -> None:
    # 64 images, 16 per process and iteration: 2 iterations an epoch across the 2 processes. GPUs are hidden: this
    # is the CPU path (gloo), and it must not depend on how many GPUs the machine has.
    command = ['tools/dist_train.sh', CONFIG, '2', '--work-dir', str(tmp_path)]
    env = {'PORT': str(free_port()), 'CUDA_VISIBLE_DEVICES': ''}
    result = run_tool([*command, *small_run_options(digits_root, 1, batch_size=16)], env=env)
    output = result.stdout + result.stderr
    assert "'backend': 'gloo'" in output and 'Distributed training: True' in output
    checkpoint = load_checkpoint(tmp_path / 'epoch_1.pth')
    assert checkpoint['meta']['iter'] == 2
    assert all(math.isfinite(r['loss']) for r in logged_scalars(tmp_path) if 'loss' in r)


TEST_CONFIG = """
from mmcv.transforms import LoadImageFromFile
from mmengine.dataset import DefaultSampler, default_collate
from mmpretrain.datasets import CustomDataset, PackInputs
from mmpretrain.evaluation import Accuracy
from mmpretrain.models import ClsDataPreprocessor, CrossEntropyLoss, ImageClassifier, LinearClsHead

from lgp.models import LGPViT

default_scope = 'mmpretrain'
model = dict(
    type=ImageClassifier,
    backbone=dict(type=LGPViT, arch='nano', img_size=32),
    head=dict(type=LinearClsHead, num_classes=10, in_channels=48, loss=dict(type=CrossEntropyLoss)),
)
data_preprocessor = dict(type=ClsDataPreprocessor, num_classes=10, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
test_dataloader = dict(
    batch_size=120, num_workers=0, sampler=dict(type=DefaultSampler, shuffle=False),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=CustomDataset, data_root='{root}', ann_file='meta/val.txt', data_prefix='',
                 pipeline=[dict(type=LoadImageFromFile), dict(type=PackInputs)]),
)
test_evaluator = dict(type=Accuracy, topk=(1,))
test_cfg = dict()
"""


def test_test_tool_evaluates_a_classifier_and_dumps(digits_root: Path, tmp_path: Path, run_tool) -> None:
    """A classifier checkpoint evaluated on the 360 val digits; predictions and metrics dumped."""
    config = tmp_path / 'vit-nano_digits_test.py'
    config.write_text(TEST_CONFIG.format(root=digits_root))
    init_default_scope('mmpretrain')  # earlier tests may leave mmseg's scope current
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'classifier.pth')
    command = ['tools/test.py', str(config), str(tmp_path / 'classifier.pth'), '--work-dir', str(tmp_path)]
    preds, metrics = tmp_path / 'preds.pkl', tmp_path / 'metrics.json'
    run_tool([*command, '--out', str(preds)])
    run_tool([*command, '--out', str(metrics), '--out-item', 'metrics'])
    predictions = mmengine.load(preds)
    assert len(predictions) == 360 and all(p['pred_score'].shape == (10,) for p in predictions)
    assert 0.0 <= mmengine.load(metrics)['accuracy/top1'] <= 100.0


def test_test_tool_refuses_a_checkpoint_that_does_not_fit(
    one_epoch_run: Path, digits_root: Path, tmp_path: Path, run_tool
) -> None:
    """The MAE checkpoint has no classifier head and holds a decoder: named, not silently half-loaded."""
    config = tmp_path / 'vit-nano_digits_test.py'
    config.write_text(TEST_CONFIG.format(root=digits_root))
    result = run_tool(['tools/test.py', str(config), str(one_epoch_run / 'epoch_1.pth')], check=False)
    assert result.returncode != 0
    assert 'missing in the checkpoint (2): head.fc.bias, head.fc.weight' in result.stderr
    assert 'unexpected in the checkpoint' in result.stderr and 'neck.decoder_embed.weight' in result.stderr


def test_test_tool_refuses_pretraining_config(one_epoch_run: Path, run_tool) -> None:
    result = run_tool(['tools/test.py', CONFIG, str(one_epoch_run / 'epoch_1.pth')], check=False)
    assert result.returncode != 0 and 'defines no test set' in result.stderr


def test_quickstart_optimizer_has_no_decay_on_norms_biases_and_tokens() -> None:
    from mmengine.optim import build_optim_wrapper

    cfg = Config.fromfile(REPO_ROOT / CONFIG)
    # MAE's lr = 1.5e-4 x batch / 256, written for 4096 and rescaled to the actual batch by auto_scale_lr
    assert cfg.auto_scale_lr.enable and cfg.optim_wrapper.optimizer.lr == pytest.approx(
        1.5e-4 * cfg.auto_scale_lr.base_batch_size / 256
    )
    init_default_scope('mmpretrain')  # earlier tests may leave mmseg's scope current
    model = MODELS.build(cfg.model)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    decay_of = {id(p): group['weight_decay'] for group in optimizer.param_groups for p in group['params']}
    frozen = {name for name, param in model.named_parameters() if not param.requires_grad}
    assert frozen == {'backbone.pos_embed', 'neck.decoder_pos_embed'}  # fixed sin-cos embeddings
    for name, param in model.named_parameters():
        if name not in frozen:
            no_decay = param.ndim == 1 or name.endswith(('cls_token', 'mask_token'))
            assert decay_of[id(param)] == (0.0 if no_decay else 0.05), name


def test_cpu_runtime_helpers() -> None:
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))))
    if torch.cuda.is_available():
        pytest.skip('the CPU path is taken only without CUDA')
    with pytest.raises(ValueError, match='fp16'):
        enable_amp(cfg, 'fp16')
    enable_amp(cfg, 'bf16')
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == ('CPUAmpOptimWrapper', 'bfloat16')
    layer = torch.nn.Linear(4, 4)
    before = layer.weight.detach().clone()
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    with wrapper.optim_context(layer):
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).mean())
    assert layer.weight.dtype == torch.float32 and layer.weight.grad is None
    assert not torch.equal(layer.weight, before)
    assert not setup_cpu_distributed(Config(dict(launcher='none')))
    with pytest.raises(RuntimeError, match='pytorch launcher'):
        setup_cpu_distributed(Config(dict(launcher='slurm')))
