"""Features of a frozen encoder over a data set, with a cache on disk that a changed input never reuses.

Symbols: N images, D feature dims (the CLS token after the final norm for an lgp ViT).
"""

import hashlib
import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader

from ..models.checkpoint import safe_load
from ..utils import Progress, eval_mode


def _file_identity(path: str | Path | None, hash_contents: bool) -> dict[str, Any]:
    """Absolute path, mtime (ns) and size of a file, plus a sha256 of its contents when asked (small files)."""
    if path is None:
        return {'path': None}
    path = Path(path).resolve()
    stat = path.stat()
    identity = {'path': str(path), 'mtime_ns': stat.st_mtime_ns, 'size': stat.st_size}
    if hash_contents:
        identity['sha256'] = hashlib.sha256(path.read_bytes()).hexdigest()
    return identity


def feature_cache_key(
    checkpoint: str | Path | None, split_file: str | Path | None, transform: Any, **extra: Any
) -> str:
    """A sha256 naming everything the features depend on; any change gives another key.

    Args:
        checkpoint: the encoder's weights file (path, mtime and size; None for untrained weights).
        split_file: the annotation file listing the images (path, mtime, size and contents).
        transform: the test-time pipeline (its config; anything whose ``repr`` is deterministic).
        **extra: anything else that changes the features, e.g. the backbone config, the data root.
    """
    parts = {
        'checkpoint': _file_identity(checkpoint, hash_contents=False),
        'split_file': _file_identity(split_file, hash_contents=True),
        'transform': transform,
        **extra,
    }
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _load_cache(cache_path: Path, cache_key: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Cached (features, labels) if the file exists and was written for ``cache_key``, else None."""
    if not cache_path.is_file():
        return None
    cached = safe_load(cache_path)
    if cached.get('key') != cache_key:
        MMLogger.get_current_instance().info(f'Feature cache {cache_path} is stale (other inputs): recomputing.')
        return None
    MMLogger.get_current_instance().info(f'Loaded {tuple(cached["features"].shape)} features from {cache_path}.')
    return cached['features'], cached['labels']


def _save_cache(cache_path: Path, cache_key: str, features: torch.Tensor, labels: torch.Tensor) -> None:
    """Write atomically (a temporary file renamed), so an interrupted run never leaves a half file."""
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_name(f'.{cache_path.name}.{os.getpid()}.tmp')
    torch.save({'features': features, 'labels': labels, 'key': cache_key}, tmp)
    tmp.replace(cache_path)


def _encode(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, D): a classifier's ``extract_feat`` or a backbone's forward, last output."""
    feats = model.extract_feat(inputs) if hasattr(model, 'extract_feat') else model(inputs)
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    if feats.dim() != 2:
        raise ValueError(
            f'Expected (B, D) features, got shape {tuple(feats.shape)}: use a backbone with out_type="cls_token" '
            '(or "avg_featmap").'
        )
    return feats


@torch.no_grad()
def extract_features(
    model: nn.Module,
    dataloader: DataLoader,
    cache_path: str | Path | None = None,
    cache_key: str | None = None,
    data_preprocessor: nn.Module | None = None,
    encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode every image of ``dataloader`` with a frozen model, in eval mode (every submodule's own mode restored
    after), showing the progress (:class:`lgp.utils.Progress`).

    Args:
        model: an mmpretrain classifier (``extract_feat``; its ``data_preprocessor`` normalises the images) or a
            bare backbone (then pass ``data_preprocessor``).
        dataloader: yields mmengine batches ``dict(inputs=[...], data_samples=[...])`` with ``gt_label`` set.
        cache_path: ``.pt`` file holding ``{'features', 'labels', 'key'}``. Reused only when its key equals
            ``cache_key``; otherwise the features are computed and the file rewritten.
        cache_key: see :func:`feature_cache_key`; required with ``cache_path`` (a cache without one could be stale).
        data_preprocessor: normalises and batches the images; defaults to ``model.data_preprocessor``.
        encode: images (B, C, H, W) -> features (B, D); defaults to a classifier's ``extract_feat`` or a backbone's
            forward, its last output.

    Returns:
        ``features`` (N, D) float32 and ``labels`` (N,) int64, on the CPU, in the data set's order.
    """
    if cache_path is not None:
        if cache_key is None:
            raise ValueError('cache_path needs a cache_key (see feature_cache_key): a cache without one may be stale.')
        cached = _load_cache(Path(cache_path), cache_key)
        if cached is not None:
            return cached
    preprocessor = data_preprocessor if data_preprocessor is not None else getattr(model, 'data_preprocessor', None)
    if preprocessor is None:
        raise ValueError(
            f'{type(model).__name__} has no data_preprocessor: pass data_preprocessor= (e.g. mmpretrain '
            'ClsDataPreprocessor with the mean / std the encoder was trained with).'
        )
    device = next(model.parameters()).device
    encode = encode if encode is not None else partial(_encode, model)
    features, labels = [], []
    with eval_mode(model), Progress(len(dataloader.dataset), 'features') as progress:
        for batch in dataloader:
            data = preprocessor(batch, False)
            feats = encode(data['inputs'].to(device))
            features.append(feats.float().cpu())
            labels.append(torch.cat([sample.gt_label for sample in data['data_samples']]).long().cpu())
            progress.update(len(feats))
    features, labels = torch.cat(features), torch.cat(labels)
    if cache_path is not None:
        _save_cache(Path(cache_path), cache_key, features, labels)
    return features, labels


__all__ = ['extract_features', 'feature_cache_key']
