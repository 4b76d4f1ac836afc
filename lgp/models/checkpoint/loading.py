"""Safe, strict loading of checkpoints into an lgp backbone, with a report of every key that does not fit."""

import pickle
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from .layouts import detect_layout, extract_backbone, unwrap


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose keys or shapes do not match the model; lists every offending key."""

    def __init__(
        self, source: str, missing: list[str], unexpected: list[str], mismatched: list[tuple[str, tuple, tuple]]
    ) -> None:
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        lines = [f'The checkpoint {source} does not fit the model:']
        if missing:
            lines.append(f'  missing in the checkpoint ({len(missing)}): {", ".join(missing)}')
        if unexpected:
            lines.append(f'  unexpected in the checkpoint ({len(unexpected)}): {", ".join(unexpected)}')
        for name, ckpt_shape, model_shape in mismatched:
            lines.append(f'  shape of {name}: checkpoint {tuple(ckpt_shape)} vs model {tuple(model_shape)}')
        lines.append(
            'Check that the arch (embed dims, depth, patch size) matches the checkpoint, and pass '
            'source=/encoder= if the layout was guessed wrong. Nothing was loaded.'
        )
        super().__init__('\n'.join(lines))


def safe_load(path: str | Path) -> dict[str, Any]:
    """``torch.load`` a file on the CPU with ``weights_only=True``; a file that would run code is refused."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f'Checkpoint {path} not found. Set the path in the config (e.g. --cfg-options '
            'model.backbone.init_cfg.checkpoint=PATH for a pre-trained backbone, load_from=PATH or --resume PATH).'
        )
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()
        detail = next(
            (line for line in reason if 'unsupported' in line.lower() or 'refusing' in line.lower()), reason[0]
        )
        raise pickle.UnpicklingError(
            f'Refusing to load {path}: it contains pickled objects that could run code ({detail.strip()}). '
            'lgp only loads tensors, built-in types and the objects of mmengine checkpoints. If the file is yours, '
            're-save its weights as plain tensors: torch.save({"state_dict": state_dict}, path).'
        ) from err


def check_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = 'checkpoint') -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state_dict`` has exactly the model's keys and shapes.

    A ``pos_embed`` for another number of patches is accepted: the backbone resizes it on load.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        (k, tuple(state_dict[k].shape), tuple(expected[k].shape))
        for k in sorted(set(expected) & set(state_dict))
        if state_dict[k].shape != expected[k].shape and not _resizable(k, state_dict[k], expected[k])
    ]
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(source, missing, unexpected, mismatched)


def _resizable(name: str, ckpt: torch.Tensor, target: torch.Tensor) -> bool:
    return name.endswith('pos_embed') and ckpt.dim() == 3 and ckpt.shape[-1] == target.shape[-1]


def read_backbone(
    checkpoint: str | Path | dict, source: str = 'auto', encoder: str = 'online'
) -> tuple[dict[str, torch.Tensor], str, dict[str, list[str]]]:
    """The backbone weights of a checkpoint file or dict, in lgp names.

    Args:
        checkpoint: a file path (loaded with :func:`safe_load`) or an already loaded checkpoint dict.
        source: a layout of :mod:`lgp.models.checkpoint.layouts` or ``auto`` to tell it from the keys.
        encoder: ``online`` (default) or ``momentum`` for checkpoints that hold both encoders.

    Returns:
        The backbone state dict, the layout read, and the keys dropped on purpose (decoder, projector, ...)
        grouped by reason.
    """
    loaded = safe_load(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    state_dict = unwrap(loaded)
    layout = detect_layout(state_dict) if source == 'auto' else source
    backbone, dropped = extract_backbone(state_dict, layout, encoder)
    return backbone, layout, dropped


def load_backbone_checkpoint(
    model: nn.Module, checkpoint: str | Path | dict, source: str = 'auto', encoder: str = 'online'
) -> dict[str, list[str]]:
    """Load a checkpoint of any known layout into an lgp backbone, strictly (see :func:`read_backbone`).

    Returns:
        The keys dropped on purpose, grouped by reason; they are also logged.

    Raises:
        CheckpointMismatchError: naming every missing, unexpected or mis-shaped key; the model is left untouched.
    """
    name = str(checkpoint) if isinstance(checkpoint, (str, Path)) else 'given as a dict'
    state_dict, layout, dropped = read_backbone(checkpoint, source, encoder)
    check_state_dict(model, state_dict, source=f'{name} (layout {layout!r}, {encoder} encoder)')
    model.load_state_dict(state_dict, strict=True)
    logger = MMLogger.get_current_instance()
    logger.info(f'Loaded {len(state_dict)} backbone tensors from {name} (layout {layout!r}, {encoder} encoder).')
    for reason, keys in dropped.items():
        logger.info(f'Dropped {len(keys)} keys on purpose: {reason}.')
    return dropped


def load_model_checkpoint(model: nn.Module, checkpoint: str | Path) -> None:
    """Load a whole-model checkpoint (lgp / mmengine ``{'state_dict': ...}``) strictly, naming any key that differs.

    Unlike mmengine's ``load_from`` (``strict=False``: missing weights stay random, with a warning), a classifier
    or segmentor evaluated from a file whose keys do not fit is an error here.
    """
    model = model.module if hasattr(model, 'module') and isinstance(model.module, nn.Module) else model
    state_dict = unwrap(safe_load(checkpoint))
    check_state_dict(model, state_dict, source=str(checkpoint))
    model.load_state_dict(state_dict, strict=True)
