"""The study's in-process jobs: the random-initialisation reference and the frozen-encoder columns."""

from pathlib import Path

import torch
from mmpretrain.registry import MODELS

from ..engine import load_config
from ..evaluation.frozen_encoder import fewshot_top1, frozen_features
from .plan import FROZEN_EVAL, RANDOM_INIT, Job


def random_init(job: Job, folder: Path, results: dict) -> dict:
    """The eval config's backbone (with the row's ``encoder`` options, if any) at its initialisation under
    ``torch.manual_seed(seed)``, saved as an mmpretrain checkpoint (``state_dict`` with ``backbone.`` keys) that every
    protocol loads like a pre-trained one."""
    cfg = load_config(job.spec['eval_config'])
    torch.manual_seed(job.spec['seed'])
    backbone = MODELS.build(dict(cfg.model.backbone, **job.spec.get('encoder', {}), init_cfg=None))
    backbone.init_weights()
    path = folder / 'random_init.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in backbone.state_dict().items()}}, path)
    return dict(checkpoint=str(path))


def frozen_eval(job: Job, folder: Path, results: dict) -> dict:
    """Top-1 on val of the logistic regression fitted on each split's frozen features (best lambda of the sweep);
    ``{split: dict(top1, top5, lambda0, ...)}``."""
    spec = job.spec
    root = Path(spec['data_root'])
    cfg = load_config(spec['config'], {'test_dataloader.dataset.data_root': str(root)})
    cfg.model.backbone.update(spec.get('encoder', {}))  # the row's encoder architecture, if not the config's
    splits = {name: root / split for name, split in spec['splits'].items()}
    features = frozen_features(cfg, results[job.deps[0]]['checkpoint'], splits)
    sweeps = fewshot_top1(features, num_classes=cfg.model.head.get('num_classes'))
    return {name: dict(sweep['best'], num_train=len(features[name][1])) for name, sweep in sweeps.items()}


IN_PROCESS = {RANDOM_INIT: random_init, FROZEN_EVAL: frozen_eval}
