"""A frozen encoder's features for several split files of one data set, and the few-shot top-1 of each split.

The config is a classification (transfer) config: ``model.backbone`` is the encoder, its ``data_preprocessor``
normalises the images and its ``test_dataloader`` gives the test-time transform and the evaluation set ("val"). A split
file lists training images (``train/<class>/<file> <label>``, paths relative to the test set's ``data_root``); its
images are seen through the same test-time transform.
"""

import os.path as osp
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from ..models.checkpoint import load_backbone_checkpoint
from .feature_extraction import extract_features, feature_cache_key
from .feature_preprocessing import prepare_features
from .fewshot import sweep_lambdas

VAL = 'val'


def resolve_split(split: str | Path, data_root: str | Path) -> Path:
    """The split file as given (absolute or from the working directory), else relative to the data root."""
    for candidate in (Path(split), Path(data_root) / split):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f'Split file {split} not found (also looked in the data root {data_root}).')


def split_dataloader_cfgs(cfg: Config, split_files: dict[str, Path]) -> dict[str, dict]:
    """``{'val': the test loader, name: a copy reading split_files[name], ...}``, none shuffled.

    The copies drop ``split`` (mmpretrain's ``ImageNet(split='val')`` would prefix the split's paths with ``val/``).
    """
    if VAL in split_files:
        raise ValueError(f'{VAL!r} names the test set; give the split files other names.')
    val = cfg.test_dataloader.copy()
    dataset = {k: v for k, v in val.dataset.items() if k != 'split'}
    loaders = {VAL: val}
    for name, split_file in split_files.items():
        loaders[name] = dict(
            val,
            dataset=dict(dataset, ann_file=str(split_file), data_prefix=''),
            sampler=dict(val.sampler, shuffle=False),
        )
    return loaders


def _ann_file_of(dataset_cfg: dict) -> Path | None:
    """The annotation file a dataset config reads, if any (for the cache key)."""
    ann_file = dataset_cfg.get('ann_file') or ''
    if not ann_file:
        return None
    path = Path(ann_file) if osp.isabs(ann_file) else Path(dataset_cfg.get('data_root', '')) / ann_file
    return path if path.is_file() else None


def build_frozen_encoder(
    cfg: Config, checkpoint: str | Path, encoder: str = 'online', device: str = 'cpu'
) -> torch.nn.Module:
    """``cfg``'s classifier with ``checkpoint`` loaded strictly into its backbone (any layout lgp reads)."""
    if cfg.get('test_dataloader') is None:
        raise ValueError('The config defines no test_dataloader: use a classification (transfer) config.')
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, init_cfg=None)
    model_cfg.data_preprocessor = model_cfg.get('data_preprocessor') or cfg.get('data_preprocessor')
    if model_cfg.data_preprocessor is None:
        raise ValueError('The config defines no data_preprocessor (the mean / std the encoder expects).')
    model = MODELS.build(model_cfg)
    load_backbone_checkpoint(model.backbone, str(checkpoint), encoder=encoder)
    return model.to(device)


def frozen_features(
    cfg: Config,
    checkpoint: str | Path,
    split_files: dict[str, Path],
    cache_dir: str | Path | None = None,
    encoder: str = 'online',
    device: str = 'cpu',
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Features (N, D) and labels (N,) of the test set (``'val'``) and of every split file, cached per input.

    A cached file is reused only when the checkpoint, split file, transform, backbone, preprocessor and data set are
    those it was computed from (:func:`lgp.evaluation.feature_cache_key`).
    """
    model = build_frozen_encoder(cfg, checkpoint, encoder, device)
    out = {}
    for name, loader_cfg in split_dataloader_cfgs(cfg, split_files).items():
        key = feature_cache_key(
            checkpoint,
            _ann_file_of(loader_cfg['dataset']),
            loader_cfg['dataset'].get('pipeline'),
            backbone=cfg.model.backbone,
            data_preprocessor=model.data_preprocessor,
            dataset={k: v for k, v in loader_cfg['dataset'].items() if k != 'pipeline'},
            encoder=encoder,
        )
        cache = Path(cache_dir) / f'{name}_{key[:16]}.pt' if cache_dir else None
        out[name] = extract_features(
            model.backbone, Runner.build_dataloader(loader_cfg), cache, key, model.data_preprocessor
        )
    return out


def fewshot_top1(
    features: dict[str, tuple[torch.Tensor, torch.Tensor]],
    num_classes: int | None = None,
    centering: str = 'sample',
    **sweep_kwargs: Any,
) -> dict[str, dict]:
    """For every split of ``features`` but ``'val'``: the lambda sweep of :func:`lgp.evaluation.sweep_lambdas`
    fitted on that split's centred, L2-normalised features and scored on val's; ``{split: sweep}``."""
    val_x, val_y = features[VAL]
    results = {}
    for name, (train_x, train_y) in features.items():
        if name == VAL:
            continue
        train_x, x = prepare_features(train_x, val_x, centering)
        results[name] = sweep_lambdas(train_x, train_y, x, val_y, num_classes=num_classes, **sweep_kwargs)
    return results


__all__ = ['VAL', 'build_frozen_encoder', 'fewshot_top1', 'frozen_features', 'resolve_split', 'split_dataloader_cfgs']
