"""Run ``tools/train.py`` and dump, on every rank, what the distributed tests compare.

    python tests/dist_scripts/train_and_dump.py CONFIG WORK_DIR [--content-noise] [--deterministic-mae]
        [tools/train.py options: --launcher pytorch, --cfg-options K=V ...]

Under ``torchrun`` pass ``--launcher pytorch``. ``tools/train.py``'s own ``main()`` runs (config merge, the
accumulation lr fix, the CPU multi-process set-up); this script only adds, by monkeypatching in this process:

- a record of every ``all_gather`` of the MoCo v3 head (the name ``mocov3_head`` calls): tensors gathered, total rows;
- a hook recording, for every training iteration, the lrs of the optimiser's param groups it used, this rank's loss
  and the parameters after it;
- after training, ``WORK_DIR/rank{r}.pth``: ``params`` (``named_parameters()`` of the model unwrapped from DDP),
  ``iters`` (the per-iteration records), ``gathers``, ``world_size``;
- ``--content-noise``: ``LGPViT.forward_masked`` without a ``noise`` masks by image content (per-patch pixel sums plus
  a tiny position term against ties), so a sample gets the same mask however the batch is split;
- ``--deterministic-mae``: no random augmentation (``LoadImageFromFile`` + ``PackInputs``), no shuffling, no worker
  processes, plain SGD (lr 0.1, no momentum, no weight decay) at a constant lr (no schedulers). Applied after
  ``--cfg-options``, so it wins over them for these keys.
"""

import lgp  # noqa: F401, I001  (first, as in tools/train.py)

import argparse
import importlib.util
import sys
from pathlib import Path

import mmpretrain.models.heads.mocov3_head as mocov3_head
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from lgp.models import LGPViT

TRAIN_PY = Path(__file__).resolve().parents[2] / 'tools' / 'train.py'


def load_train_module():
    """``tools/train.py`` as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location('lgp_tools_train', TRAIN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GATHERS: list[dict] = []


def record_gathers() -> None:
    """Wrap the MoCo v3 head's ``all_gather``: record how many tensors each call returned and their total rows."""
    gather = mocov3_head.all_gather

    def recording_all_gather(data, *args, **kwargs):
        gathered = gather(data, *args, **kwargs)
        GATHERS.append(dict(tensors=len(gathered), rows=sum(t.shape[0] for t in gathered), local_rows=data.shape[0]))
        return gathered

    mocov3_head.all_gather = recording_all_gather


def content_noise(x: torch.Tensor, patch_resolution: tuple[int, int]) -> torch.Tensor:
    """Masking scores (B, L) of images x (B, C, H, W): per-patch sums of the pixels (float64) + 1e-6 * position.

    Patches of different content differ by far more than 1e-6, patches of equal content are ordered by position: the
    mask of a sample depends on that sample alone.
    """
    h, w = patch_resolution
    B, C, H, W = x.shape
    sums = x.detach().double().reshape(B, C, h, H // h, w, W // w).sum(dim=(1, 3, 5)).flatten(1)
    return sums + 1e-6 * torch.arange(h * w, dtype=torch.float64, device=x.device)


def use_content_noise() -> None:
    forward_masked = LGPViT.forward_masked

    def forward_masked_by_content(self, x, mask_ratio=None, noise=None):
        if noise is None:
            noise = content_noise(x, self.patch_resolution)
        return forward_masked(self, x, mask_ratio=mask_ratio, noise=noise)

    LGPViT.forward_masked = forward_masked_by_content


def make_deterministic_mae(cfg) -> None:
    """Edit a loaded MAE config in place: the same samples, masks (--content-noise) and update in any split."""
    loader = cfg.train_dataloader
    loader.dataset.pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    loader.sampler.shuffle = False
    loader.update(num_workers=0, persistent_workers=False)
    cfg.optim_wrapper.optimizer = dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=0.0)
    cfg.param_scheduler = []


class RecordHook(Hook):
    """Per training iteration: the param groups' lrs it used, this rank's loss and the parameters after it."""

    priority = 'VERY_LOW'  # last: the lr seen before an iteration is the one its optimiser step uses

    def __init__(self) -> None:
        self.records: list[dict] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.records.append(dict(lr=[float(group['lr']) for group in runner.optim_wrapper.optimizer.param_groups]))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.records[-1].update(loss=float(outputs['loss'].detach()), params=model_parameters(runner))


def model_parameters(runner) -> dict[str, torch.Tensor]:
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return {name: param.detach().clone() for name, param in model.named_parameters()}


def record_training() -> None:
    """Make ``Runner.train`` register a :class:`RecordHook` and dump ``rank{r}.pth`` when training ends."""
    train = Runner.train

    def train_and_dump(runner):
        hook = RecordHook()
        runner.register_hook(hook)
        model = train(runner)
        dump = dict(params=model_parameters(runner), iters=hook.records, gathers=GATHERS, world_size=get_world_size())
        torch.save(dump, Path(runner.work_dir) / f'rank{get_rank()}.pth')
        return model

    Runner.train = train_and_dump


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('work_dir')
    parser.add_argument('--content-noise', action='store_true', help='MAE masks from the image content')
    parser.add_argument('--deterministic-mae', action='store_true', help='no augmentation / shuffling; SGD')
    args, train_args = parser.parse_known_args()

    train = load_train_module()
    if args.deterministic_mae:
        merge_args = train.merge_args

        def merge_args_deterministic(cfg, train_cli_args):
            cfg = merge_args(cfg, train_cli_args)
            make_deterministic_mae(cfg)
            return cfg

        train.merge_args = merge_args_deterministic
    if args.content_noise:
        use_content_noise()
    record_gathers()
    record_training()
    sys.argv = [str(TRAIN_PY), args.config, '--work-dir', args.work_dir, *train_args]
    train.main()


if __name__ == '__main__':
    main()
