"""Safe, strict, all-or-nothing loading of checkpoints into lgp models, with a report of every key that does not fit.

Every load checks the whole state dict against the model first (:func:`check_state_dict`) and only then copies:
a checkpoint that does not fit raises :class:`CheckpointMismatchError` naming every offending key, and the model is
left untouched.
"""

import math
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmpretrain.models.backbones import VisionTransformer

from .layouts import detect_layout, detect_model_layout, extract_backbone, extract_model, select_prefix, unwrap


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
            lines.append(f'  shape of {name}: checkpoint {_shape(ckpt_shape)} vs model {_shape(model_shape)}')
        lines.append(
            'Check that the arch (embed dims, depth, patch size) matches the checkpoint, and pass '
            'source=/encoder= if the layout was guessed wrong. Nothing was loaded.'
        )
        super().__init__('\n'.join(lines))


def _shape(shape: tuple | str) -> str:
    return shape if isinstance(shape, str) else str(tuple(shape))


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

    The exemptions, for the tensors the model's load hooks resize for its patch grid: the ``pos_embed`` of an
    mmpretrain ``VisionTransformer`` (``LGPViT`` included) anywhere in the model may be for another number of patches
    when the resize its load hook does will succeed (see :func:`resizable_pos_embeds`), and so may the shared relative
    position bias table of an ``LGPViT`` (see :func:`resizable_rel_pos_tables`). Everything else, the MAE decoder's
    ``decoder_pos_embed`` included, must match, so that a strict ``load_state_dict`` after this check cannot fail half
    way.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    resizable = resizable_pos_embeds(model, state_dict) | resizable_rel_pos_tables(model, state_dict)
    mismatched = []
    for key in sorted(set(expected) & set(state_dict)):
        value, target = state_dict[key], expected[key]
        if not isinstance(value, torch.Tensor):
            mismatched.append((key, f'{type(value).__name__} (not a tensor)', tuple(target.shape)))
        elif value.shape != target.shape and key not in resizable:
            mismatched.append((key, tuple(value.shape), tuple(target.shape)))
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(source, missing, unexpected, mismatched)


def resizable_pos_embeds(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> set[str]:
    """The keys of ``state_dict`` that the model resizes on load: ``{prefix}pos_embed`` of each mmpretrain
    ``VisionTransformer`` submodule, where its load hook (``_prepare_pos_embed``) will succeed.

    The hook drops the CLS entry when the ViT has no CLS token and the checkpoint one more entry, then reshapes the
    patch part to a square grid and interpolates it to the ViT's grid. That needs a (1, L, D) tensor of the ViT's
    width D with a square number of patch tokens L - extra tokens.
    """
    keys = set()
    for name, module in model.named_modules():
        key = f'{name}.pos_embed' if name else 'pos_embed'
        value = state_dict.get(key)
        if isinstance(module, VisionTransformer) and isinstance(value, torch.Tensor):
            if _pos_embed_resizes(module, value):
                keys.add(key)
    return keys


# where an LGPViT with ``rel_pos_bias=True`` keeps its shared relative position bias table
REL_POS_TABLE_KEY = 'rel_pos_bias.relative_position_bias_table'


def resizable_rel_pos_tables(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> set[str]:
    """The keys of ``state_dict`` that the model resamples on load: the shared relative position bias table
    ``{prefix}rel_pos_bias.relative_position_bias_table`` of each submodule with a ``rel_pos_table_grid`` method
    (``LGPViT``) that says its load hook takes it: the same heads, for a square patch grid.
    """
    keys = set()
    for name, module in model.named_modules():
        key = (f'{name}.' if name else '') + REL_POS_TABLE_KEY
        value, grid_of = state_dict.get(key), getattr(module, 'rel_pos_table_grid', None)
        if isinstance(value, torch.Tensor) and callable(grid_of) and grid_of(value) is not None:
            keys.add(key)
    return keys


def _pos_embed_resizes(vit: VisionTransformer, value: torch.Tensor) -> bool:
    if not isinstance(getattr(vit, 'pos_embed', None), torch.Tensor):  # a ViT variant without absolute positions
        return False
    target = vit.pos_embed.shape
    if value.dim() != 3 or value.shape[0] != 1 or value.shape[2] != target[2]:
        return False
    length = value.shape[1]
    if not getattr(vit, 'with_cls_token', True) and length == target[1] + 1:
        length -= 1
    if length == target[1]:
        return True
    patches = length - getattr(vit, 'num_extra_tokens', 1)
    return patches > 0 and math.isqrt(patches) ** 2 == patches


def read_backbone(
    checkpoint: str | Path | dict, source: str = 'auto', encoder: str = 'online', prefix: str | None = None
) -> tuple[dict[str, torch.Tensor], str, dict[str, list[str]]]:
    """The backbone weights of a checkpoint file or dict, in lgp names.

    Args:
        checkpoint: a file path (loaded with :func:`safe_load`) or an already loaded checkpoint dict.
        source: a layout of :mod:`lgp.models.checkpoint.layouts` or ``auto`` to tell it from the keys.
        encoder: ``online`` (default) or ``momentum`` for checkpoints that hold both encoders.
        prefix: keep only the keys under this prefix, stripped, before reading the layout (mmengine's
            ``PretrainedInit(prefix=...)``; a missing trailing dot is added).

    Returns:
        The backbone state dict, the layout read, and the keys dropped on purpose (decoder, projector, keys outside
        ``prefix``, ...) grouped by reason.
    """
    loaded = safe_load(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    state_dict, dropped = select_prefix(unwrap(loaded), prefix)
    layout = detect_layout(state_dict) if source == 'auto' else source
    backbone, dropped_here = extract_backbone(state_dict, layout, encoder)
    return backbone, layout, {**dropped, **dropped_here}


def load_backbone_checkpoint(
    model: nn.Module,
    checkpoint: str | Path | dict,
    source: str = 'auto',
    encoder: str = 'online',
    prefix: str | None = None,
) -> dict[str, list[str]]:
    """Load a checkpoint of any known layout into an lgp backbone, strictly (see :func:`read_backbone`).

    ``load_backbone_checkpoint(backbone, **pretrained)`` takes the spec :func:`lgp.models.checkpoint.split_init_cfg`
    gives for a ``Pretrained`` init_cfg.

    Returns:
        The keys dropped on purpose, grouped by reason; they are also logged.

    Raises:
        CheckpointMismatchError: naming every missing, unexpected or mis-shaped key; the model is left untouched.
    """
    name = _name(checkpoint)
    state_dict, layout, dropped = read_backbone(checkpoint, source, encoder, prefix)
    state_dict, pooling = fit_global_pool(model, state_dict)
    dropped.update(pooling)
    where = f'{name} (layout {layout!r}, {encoder} encoder{f", prefix {prefix!r}" if prefix else ""})'
    check_state_dict(model, state_dict, source=where)
    model.load_state_dict(state_dict, strict=True)
    _log_loaded(f'Loaded {len(state_dict)} backbone tensors from {where}.', dropped)
    return dropped


def fit_global_pool(
    model: nn.Module, state_dict: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """A pre-trained encoder's weights for a ViT that pools its patch tokens (MAE's global-pool fine-tuning, CMAE's).

    An mmpretrain ``VisionTransformer`` with ``out_type='avg_featmap'`` normalises the mean patch token with its own
    norm ``ln2`` (MAE's ``fc_norm``), which no pre-trained encoder has: it keeps its initialisation. With
    ``final_norm=False`` it has no final norm ``ln1``: the encoder's is left out. Both are declared by the backbone's
    config and reported here; every other tensor is loaded strictly. Any other model is returned unchanged.

    Returns:
        The state dict to load, and ``{reason: keys}`` of the keys new or left out.
    """
    if not isinstance(model, VisionTransformer):
        return state_dict, {}
    changes = {}
    if not model.final_norm:
        final = [k for k in state_dict if k.startswith('ln1.')]
        if final:
            state_dict = {k: v for k, v in state_dict.items() if k not in final}
            changes['the final norm, which this backbone does not have (final_norm=False)'] = final
    if model.out_type == 'avg_featmap' and not any(k.startswith('ln2.') for k in state_dict):
        pooled_norm = {f'ln2.{k}': v for k, v in model.ln2.state_dict().items()}
        state_dict = {**state_dict, **pooled_norm}
        changes["new, kept at their initialisation: the norm after average pooling (ln2, MAE's fc_norm)"] = sorted(
            pooled_norm
        )
    return state_dict, changes


def read_model(
    checkpoint: str | Path | dict, source: str = 'auto'
) -> tuple[dict[str, torch.Tensor], str, dict[str, list[str]]]:
    """The state dict of lgp's whole model from a checkpoint file or dict (see :func:`layouts.extract_model`).

    Args:
        checkpoint: a file path (loaded with :func:`safe_load`) or an already loaded checkpoint dict.
        source: ``mae`` (the official MAE release with its decoder -> lgp's ``LGPMAE``), ``mocov3`` (the official
            MoCo v3 / original Layer Grafted release with projector, predictor and momentum encoder -> lgp's
            ``LGPMoCoV3``, ``momentum_encoder.steps`` set to 1 so that training continues the momentum encoder from
            the file's momentum weights), ``mmengine`` (lgp / mmengine's own, unchanged), or ``auto`` to tell it
            from the keys (anything not recognised as an official release is taken as lgp's own).

    Returns:
        The whole-model state dict, the layout read, and the keys dropped on purpose grouped by reason (none for
        these layouts: a key with no home keeps its name, for the strict check to name).
    """
    loaded = safe_load(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    state_dict = unwrap(loaded)
    layout = detect_model_layout(state_dict) if source == 'auto' else source
    model_state_dict, dropped = extract_model(state_dict, layout)
    return model_state_dict, layout, dropped


def load_model_checkpoint(
    model: nn.Module,
    checkpoint: str | Path | dict,
    source: str = 'auto',
    revise_keys: Sequence[tuple[str, str]] = (),
    name: str | None = None,
) -> dict[str, list[str]]:
    """Load a whole-model checkpoint strictly and all or nothing, naming any key that differs.

    lgp / mmengine's own ``{'state_dict': ...}`` loads as it is; the official MAE (with decoder) and MoCo v3 /
    Layer Grafted releases are converted first (:func:`read_model`). Unlike mmengine's ``load_from``
    (``strict=False``: missing weights stay random, with a warning), a classifier or segmentor evaluated from a file
    whose keys do not fit is an error here.

    Args:
        revise_keys: ``[(pattern, replacement)]``, ``re.sub`` on every key after reading, before the check
            (mmengine's ``load_checkpoint`` option).
        name: how the messages name the checkpoint (default: its path, or "given as a dict").

    Returns:
        The keys dropped on purpose, grouped by reason.

    Raises:
        CheckpointMismatchError: naming every missing, unexpected or mis-shaped key; the model is left untouched.
    """
    model = model.module if hasattr(model, 'module') and isinstance(model.module, nn.Module) else model
    state_dict, layout, dropped = read_model(checkpoint, source)
    for pattern, replacement in revise_keys:
        state_dict = {re.sub(pattern, replacement, key): value for key, value in state_dict.items()}
    name = name or _name(checkpoint)
    where = name if layout == 'mmengine' else f'{name} (layout {layout!r})'
    check_state_dict(model, state_dict, source=where)
    model.load_state_dict(state_dict, strict=True)
    _log_loaded(f'Loaded {len(state_dict)} tensors from {where}.', dropped)
    return dropped


def _name(checkpoint: str | Path | dict) -> str:
    return str(checkpoint) if isinstance(checkpoint, (str, Path)) else 'given as a dict'


def _log_loaded(message: str, dropped: dict[str, list[str]]) -> None:
    logger = MMLogger.get_current_instance()
    logger.info(message)
    for reason, keys in dropped.items():
        logger.info(f'Not loaded from the checkpoint, on purpose ({len(keys)} keys): {reason}.')
