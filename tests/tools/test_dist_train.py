"""Multi-process training on the CPU (torchrun, gloo), as real processes: tools/dist_train.sh, the consistency of
2-process and gradient-accumulated runs with 1-process ones, and frozen parameters under DDP.

The comparison runs go through ``tests/dist_scripts/train_and_dump.py``: ``tools/train.py``'s ``main()`` plus records
(loss, lr and parameters per iteration, the MoCo v3 head's gathers) dumped to ``WORK_DIR/rank{r}.pth`` by every rank.

The MAE comparisons are exact up to float32 rounding because everything random is taken out (``--content-noise
--deterministic-mae``): masks come from the image content, there is no augmentation and no shuffling, and the update
is plain SGD at a constant lr. mmengine's ``DefaultSampler`` without shuffling gives rank r of W the samples r, r + W,
r + 2W, ..., so 2 processes with batch B see, at each step, the same global batch as 1 process with batch 2B, and
every process starts from the same ``load_from`` checkpoint.
"""

import math
import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from scalars import logged_scalars

import lgp  # noqa: F401  (registrations; safe-load allow-list)
from lgp.engine import GraftedOptimWrapperConstructor
from lgp.models import LGPViT

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = 'tests/dist_scripts/train_and_dump.py'
MAE_CONFIG = 'configs/mae_vit-nano_digits.py'
GRAFTED_CONFIG = 'configs/grafted_vit-nano_digits.py'
B = 8  # per-process batch; 2B = 16 is the global batch of every MAE comparison
# 1-process vs 2-process (or accumulated) runs differ only in the order of float32 sums (one batch of 2B vs two of
# B, reduced by gloo's all-reduce or by accumulating): the gradients differ by ~1e-7 relative and, after SGD steps of
# lr 0.1, the parameters (|p| <= ~1) by about one float32 ulp (~6e-8 measured). atol 1e-6 is well above that and
# far below what training moves them (asserted: > 100 x ATOL).
RTOL, ATOL = 1e-5, 1e-6


def free_port() -> int:
    """A TCP port that was free a moment ago, for the torchrun master."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def train_and_dump(run_tool, config: str, work_dir: Path, options: list[str], nproc: int = 1) -> list[dict]:
    """Run the helper script (under torchrun for ``nproc`` > 1, GPUs hidden); the dumps of ranks 0..nproc-1.

    ``run_tool`` fails the test with the tail of the output on a non-zero exit (and times out after 300 s).
    """
    script = [SCRIPT, config, str(work_dir)]
    if nproc == 1:
        command = script
    else:
        launcher = ['-m', 'torch.distributed.run', f'--nproc_per_node={nproc}', f'--master_port={free_port()}']
        command = [sys.executable, *launcher, *script, '--launcher', 'pytorch']
    run_tool([*command, *options], env={'CUDA_VISIBLE_DEVICES': ''})
    return [torch.load(work_dir / f'rank{r}.pth', map_location='cpu', weights_only=True) for r in range(nproc)]


def assert_params_close(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, rtol=RTOL, atol=ATOL, msg=lambda m, n=name: f'{n}: {m}')


def max_change(params: dict, initial: dict) -> float:
    return max((p - initial[name]).abs().max().item() for name, p in params.items())


# tools/dist_train.sh


def test_dist_train_two_cpu_processes(tmp_path: Path, digits_root: Path, run_tool) -> None:
    # 32 images, 16 per process and iteration: 1 iteration an epoch across the 2 processes, 2 epochs (the warm-up
    # shortened to 1: a run must outlast it). GPUs are hidden: this is the CPU path (gloo), and it must not depend
    # on how many GPUs the machine has.
    command = ['tools/dist_train.sh', MAE_CONFIG, '2', '--work-dir', str(tmp_path)]
    env = {'PORT': str(free_port()), 'CUDA_VISIBLE_DEVICES': ''}
    options = [
        '--cfg-options',
        'train_cfg.max_epochs=2',
        'param_scheduler.0.end=1',
        'param_scheduler.1.begin=1',
        'train_dataloader.batch_size=16',
        f'train_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=32',
        'default_hooks.logger.interval=1',
    ]
    result = run_tool([*command, *options], env=env)
    output = result.stdout + result.stderr
    assert "'backend': 'gloo'" in output and 'Distributed training: True' in output
    checkpoint = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    losses = [r['loss'] for r in logged_scalars(tmp_path) if 'loss' in r]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)


# Layer Grafted Pre-training (MoCo v3 from MAE weights) on 2 processes


def test_grafted_two_processes_stay_in_sync(tmp_path: Path, digits_root: Path, run_tool) -> None:
    torch.manual_seed(0)
    mae = LGPViT('nano', img_size=32)
    mae.init_weights()
    mae_weights = {f'backbone.{k}': v for k, v in mae.state_dict().items()}
    torch.save({'state_dict': mae_weights}, tmp_path / 'mae.pth')
    # 32 images, batch B per process: 2 iterations (optimizer steps) an epoch on each of the 2 processes, 2 epochs
    # (the twin's warm-up is 1 epoch: a run must outlast it): lr factors 1e-4, 1 (warm-up), 1, 0.5 (cosine). With 1
    # iteration an epoch mmengine's warm-up would never leave 1e-4. auto_scale_lr is off: scaled to the batch of 16
    # (x 16 / 4096) the lr would move the lower blocks' weights near 1 by less than a float32 ulp.
    options = [
        '--cfg-options',
        'train_cfg.max_epochs=2',
        f'train_dataloader.batch_size={B}',
        f'train_dataloader.dataset.data_root={digits_root}',
        'train_dataloader.dataset.indices=32',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'model.step1.checkpoint={tmp_path / "mae.pth"}',
        'auto_scale_lr.enable=False',
        'default_hooks.checkpoint=None',
    ]
    ranks = train_and_dump(run_tool, GRAFTED_CONFIG, tmp_path / 'work', options, nproc=2)

    for dump in ranks:
        assert dump['world_size'] == 2
        assert len(dump['iters']) == 4 and all(math.isfinite(it['loss']) for it in dump['iters'])
        # 4 iterations x 2 loss terms; each gathered the keys of both processes: logits (B, 2B)
        assert dump['gathers'] == [dict(tensors=2, rows=2 * B, local_rows=B)] * 8
    # On the CPU the heads' BatchNorm is per process (setup_cpu_distributed drops sync_bn, which needs GPUs): the
    # BN running statistics (buffers, not compared) may differ between ranks; DDP keeps the parameters identical,
    # including the momentum encoder's, which is an average of identical online weights.
    params_0, params_1 = ranks[0]['params'], ranks[1]['params']
    assert params_0.keys() == params_1.keys()
    assert [name for name in params_0 if not torch.equal(params_0[name], params_1[name])] == []

    frozen = ('backbone.pos_embed', 'backbone.patch_embed.')  # sin-cos, and stop-gradient at the MAE weights
    for name, weight in mae_weights.items():
        if name.startswith(frozen):
            assert torch.equal(params_0[name], weight), name
        else:  # cls_token, every block (lower ones at 0.1x lr) and the final norm were trained
            assert not torch.equal(params_0[name], weight), name


# MAE: 1 process with batch 2B == 2 processes with batch B == 1 process with batch B and 2 accumulated iterations


def mae_options(digits_root: Path, checkpoint: Path, batch_size: int, indices: int, *extra: str) -> list[str]:
    """Deterministic MAE run (no schedulers: ``--deterministic-mae``); auto_scale_lr on, with base_batch_size 16:
    lr 0.1 at a global batch of 16."""
    return [
        '--content-noise',
        '--deterministic-mae',
        '--cfg-options',
        'train_cfg.max_epochs=1',
        f'train_dataloader.batch_size={batch_size}',
        f'train_dataloader.dataset.data_root={digits_root}',
        f'train_dataloader.dataset.indices={indices}',
        f'load_from={checkpoint}',
        'auto_scale_lr.enable=True',
        'auto_scale_lr.base_batch_size=16',
        'default_hooks.checkpoint=None',
        *extra,
    ]


@pytest.fixture(scope='module')
def mae_start(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A freshly initialised MAE (``load_from`` checkpoint of every run) and its parameters."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(REPO_ROOT / MAE_CONFIG).model)
    model.init_weights()
    path = tmp_path_factory.mktemp('mae_start') / 'mae.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path, {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.fixture(scope='module')
def mae_one_process(mae_start, digits_root: Path, tmp_path_factory: pytest.TempPathFactory, run_tool) -> dict:
    """1 process, batch 2B, 32 images: 2 iterations, one SGD step each."""
    work_dir = tmp_path_factory.mktemp('mae_1proc')
    return train_and_dump(run_tool, MAE_CONFIG, work_dir, mae_options(digits_root, mae_start[0], 2 * B, 32))[0]


def test_mae_two_processes_match_one_process(
    mae_start, mae_one_process: dict, digits_root: Path, tmp_path: Path, run_tool
) -> None:
    ranks = train_and_dump(run_tool, MAE_CONFIG, tmp_path, mae_options(digits_root, mae_start[0], B, 32), nproc=2)
    assert len(mae_one_process['iters']) == 2 and all(len(dump['iters']) == 2 for dump in ranks)
    for i, single in enumerate(mae_one_process['iters']):
        rank_losses = [dump['iters'][i]['loss'] for dump in ranks]
        assert rank_losses[0] != rank_losses[1]  # the ranks saw different halves of the batch
        # every sample has the same number of masked patches, so the loss of 2B samples is the mean of the halves'
        assert sum(rank_losses) / 2 == pytest.approx(single['loss'], rel=1e-5), f'iteration {i + 1}'
        assert all(dump['iters'][i]['lr'] == pytest.approx(single['lr']) for dump in ranks)
    assert all(lr == pytest.approx(0.1) for lr in mae_one_process['iters'][0]['lr'])
    assert [n for n, p in ranks[0]['params'].items() if not torch.equal(p, ranks[1]['params'][n])] == []
    assert_params_close(ranks[0]['params'], mae_one_process['params'])
    assert max_change(mae_one_process['params'], mae_start[1]) > 100 * ATOL


def test_mae_accumulation_matches_the_large_batch(
    mae_start, mae_one_process: dict, digits_root: Path, tmp_path: Path, run_tool
) -> None:
    """Batch B with accumulative_counts=2 on the first 2B images == the 1-process run's first step (batch 2B)."""
    options = mae_options(digits_root, mae_start[0], B, 2 * B, 'optim_wrapper.accumulative_counts=2')
    (accumulated,) = train_and_dump(run_tool, MAE_CONFIG, tmp_path, options)
    first, second = accumulated['iters']
    # no step after the first half (the gradients accumulate): the parameters are still the loaded ones
    assert [n for n, p in first['params'].items() if not torch.equal(p, mae_start[1][n])] == []
    large_batch_step = mae_one_process['iters'][0]
    # auto_scale_lr scales for the batch of a step, 2B = base_batch_size: lr 0.1 (mmengine alone would give 0.05)
    assert second['lr'] == pytest.approx(large_batch_step['lr'])
    assert all(lr == pytest.approx(0.1) for lr in second['lr'])
    # mmengine's OptimWrapper divides each half's loss by 2: the summed gradient is that of the batch of 2B
    assert_params_close(second['params'], large_batch_step['params'])
    assert_params_close(accumulated['params'], large_batch_step['params'])


# frozen_stages with a learnable position embedding, under 2-process DDP (issue 10, defect 2)

FROZEN_STAGES, STEPS = 3, 3


class Classifier(nn.Module):
    """A nano LGPViT with a learnable pos_embed and ``frozen_stages``, and a linear head on its CLS token."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = LGPViT('nano', img_size=32, pos_embed_type='learnable', frozen_stages=FROZEN_STAGES)
        self.head = nn.Linear(48, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images)[0])


def frozen_names(model: Classifier) -> set[str]:
    """What ``frozen_stages=N`` freezes (mmpretrain's definition): the embeddings and blocks [0, N)."""
    return {
        f'backbone.{name}'
        for name, _ in model.backbone.named_parameters()
        if name in ('pos_embed', 'cls_token')
        or name.startswith(('patch_embed.', 'pre_norm.'))
        or (name.startswith('layers.') and int(name.split('.')[1]) < FROZEN_STAGES)
    }


def train_with_frozen_stages(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One DDP process (gloo): :class:`Classifier`, AdamW (weight decay 0.05) built by GraftedOptimWrapperConstructor,
    ``STEPS`` steps on this rank's own random batches. Dumps what the test checks to ``out_dir/rank{rank}.pth``."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        torch.manual_seed(0)  # the same model on every rank
        model = Classifier()
        model.backbone.init_weights()
        initial = {name: p.detach().clone() for name, p in model.named_parameters()}
        optimizer = dict(type='AdamW', lr=1e-2, weight_decay=0.05)
        wrapper_cfg = dict(type='OptimWrapper', optimizer=optimizer, constructor=GraftedOptimWrapperConstructor)
        optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
        optimised = {id(p) for group in optim_wrapper.optimizer.param_groups for p in group['params']}
        # as setup_cpu_distributed has tools/train.py wrap the model: no device ids, no buffer broadcast
        ddp = nn.parallel.DistributedDataParallel(model, device_ids=None, broadcast_buffers=False)
        ddp.train()
        generator = torch.Generator().manual_seed(100 + rank)  # each rank its own data
        got_grad: set[str] = set()
        for _ in range(STEPS):
            images = torch.randn(4, 3, 32, 32, generator=generator)
            labels = torch.randint(0, 10, (4,), generator=generator)
            optim_wrapper.backward(nn.functional.cross_entropy(ddp(images), labels))
            got_grad |= {name for name, p in model.named_parameters() if p.grad is not None}
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        params = dict(model.named_parameters())
        record = dict(
            requires_grad={name for name, p in params.items() if p.requires_grad},
            optimised={name for name, p in params.items() if id(p) in optimised},
            got_grad=got_grad,
            changed={name for name, p in params.items() if not torch.equal(p.detach(), initial[name])},
            params={name: p.detach().clone() for name, p in params.items()},
        )
        torch.save(record, Path(out_dir) / f'rank{rank}.pth')
    finally:
        torch_dist.destroy_process_group()


def test_frozen_stages_hold_for_a_learnable_pos_embed_under_ddp(tmp_path: Path) -> None:
    """Frozen means: requires_grad False, in no param group, no gradient, unchanged after training steps, on every
    rank. The rest of the model trains and stays in sync."""
    mp.spawn(train_with_frozen_stages, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in range(2)]
    frozen = frozen_names(Classifier())
    assert 'backbone.pos_embed' in frozen and 'backbone.layers.2.attn.qkv.weight' in frozen
    for rank, record in enumerate(ranks):
        facts = {
            name: dict(
                requires_grad=name in record['requires_grad'],
                optimised=name in record['optimised'],
                got_grad=name in record['got_grad'],
                changed=name in record['changed'],
            )
            for name in record['params']
        }
        not_frozen = {name: f for name, f in facts.items() if name in frozen and any(f.values())}
        assert not_frozen == {}, f'rank {rank}: frozen parameters that are not'
        trained = {name for name, f in facts.items() if all(f.values())}
        assert trained == set(record['params']) - frozen, f'rank {rank}'
    assert all(torch.equal(p, ranks[1]['params'][name]) for name, p in ranks[0]['params'].items())
