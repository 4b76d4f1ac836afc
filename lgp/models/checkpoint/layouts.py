"""Checkpoint layouts lgp reads, and the renaming between timm's ViT keys and lgp's (mmpretrain's) keys.

A *layout* says where the backbone's weights sit inside a checkpoint and which other keys are dropped on purpose:

===============  =====================================================  =========================================
layout           where                                                  key style
===============  =====================================================  =========================================
``timm``         ``{'model': sd}`` (official MAE release) or a bare sd  ``blocks.{i}.attn.qkv``, ``patch_embed.proj``
``mocov3``       ``{'state_dict': sd}``, ``module.base_encoder.``        timm (official MoCo v3 and the original
                 (``module.momentum_encoder.`` for the momentum one)    Layer Grafted release)
``mmengine``     ``{'state_dict': sd}``, ``backbone.``                   lgp / mmpretrain (``layers.{i}.ln1``)
``backbone``     a backbone-only file (``{'state_dict': sd}`` or sd)     lgp / mmpretrain
===============  =====================================================  =========================================
"""

import re
from typing import Any

import torch

# (timm, lgp) name fragments; ``{i}`` is a block index. Keys that match none (cls_token, pos_embed) keep their name.
_TIMM_LGP_PAIRS = (
    ('patch_embed.proj.', 'patch_embed.projection.'),
    ('blocks.{i}.norm1.', 'layers.{i}.ln1.'),
    ('blocks.{i}.attn.', 'layers.{i}.attn.'),
    ('blocks.{i}.norm2.', 'layers.{i}.ln2.'),
    ('blocks.{i}.mlp.fc1.', 'layers.{i}.ffn.layers.0.0.'),
    ('blocks.{i}.mlp.fc2.', 'layers.{i}.ffn.layers.1.'),
    ('norm.', 'ln1.'),
)


def _prefix_rules(pairs: tuple, reverse: bool) -> list[tuple[re.Pattern, str]]:
    rules = []
    for timm_name, lgp_name in pairs:
        src, dst = (lgp_name, timm_name) if reverse else (timm_name, lgp_name)
        pattern = '^' + re.escape(src).replace(re.escape('{i}'), r'(\d+)')
        rules.append((re.compile(pattern), dst.replace('{i}', r'\1')))
    return rules


_TIMM_TO_LGP = _prefix_rules(_TIMM_LGP_PAIRS, reverse=False)
_LGP_TO_TIMM = _prefix_rules(_TIMM_LGP_PAIRS, reverse=True)


def _rename(state_dict: dict[str, torch.Tensor], rules: list) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            if pattern.match(key):
                key = pattern.sub(replacement, key, count=1)
                break
        renamed[key] = value
    return renamed


def timm_to_lgp(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm ViT backbone state dict to lgp's names (values are shared, not copied)."""
    return _rename(state_dict, _TIMM_TO_LGP)


def lgp_to_timm(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an lgp backbone state dict to timm's ``VisionTransformer`` names (``num_classes=0``)."""
    return _rename(state_dict, _LGP_TO_TIMM)


# Keys each layout holds besides the backbone, dropped with the reason given.
_TIMM_DROPPED = {
    'MAE decoder (not part of the encoder)': ('decoder_', 'mask_token'),
    'classification head (not part of the backbone)': ('head.', 'fc_norm.'),
}
_MOCOV3_DROPPED = {'MoCo v3 projector (head.*) of the encoder': ('head.',)}
_ENCODER_PREFIXES = {
    'mocov3': {
        'online': ('module.base_encoder.', 'base_encoder.'),
        'momentum': ('module.momentum_encoder.', 'momentum_encoder.'),
    },
    'mmengine': {
        'online': ('backbone.',),
        'momentum': ('momentum_encoder.module.backbone.', 'momentum_encoder.module.0.'),
    },
}
LAYOUTS = ('timm', 'mocov3', 'mmengine', 'backbone')


def unwrap(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: its ``state_dict`` or ``model`` entry, or the checkpoint itself."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise ValueError(
        f'No state dict found in the checkpoint (top-level keys: {sorted(checkpoint)[:10]}); expected '
        "a 'state_dict' or 'model' entry, or a bare state dict of tensors."
    )


def detect_layout(state_dict: dict[str, torch.Tensor]) -> str:
    """Tell the layout of a state dict from its key names."""
    keys = list(state_dict)

    def has(*prefixes: str) -> bool:
        return any(k.startswith(prefixes) for k in keys)

    if has(*_ENCODER_PREFIXES['mocov3']['online']):
        return 'mocov3'
    if has('backbone.'):
        return 'mmengine'
    if has('blocks.'):
        return 'timm'
    if has('layers.'):
        return 'backbone'
    raise ValueError(
        f'Cannot tell the checkpoint layout from its keys (first ones: {keys[:5]}). Pass source= one of {LAYOUTS}.'
    )


def extract_backbone(
    state_dict: dict[str, torch.Tensor], layout: str, encoder: str = 'online'
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """The backbone's weights in lgp names, and the keys dropped on purpose, grouped by reason.

    Args:
        state_dict: as returned by :func:`unwrap`.
        layout: one of :data:`LAYOUTS`.
        encoder: ``online`` or ``momentum``, for layouts that hold both (MoCo v3, lgp's own checkpoints).
    """
    if layout not in LAYOUTS:
        raise ValueError(f'Unknown checkpoint layout {layout!r}; choose one of {LAYOUTS}.')
    if layout in _ENCODER_PREFIXES:
        if encoder not in ('online', 'momentum'):
            raise ValueError(f"encoder must be 'online' or 'momentum', got {encoder!r}.")
        state_dict, dropped = _strip_encoder_prefix(state_dict, _ENCODER_PREFIXES[layout][encoder])
    else:
        dropped = {}
    if layout in ('timm', 'mocov3'):
        state_dict, dropped_here = _drop(state_dict, _TIMM_DROPPED if layout == 'timm' else _MOCOV3_DROPPED)
        state_dict = timm_to_lgp(state_dict)
        dropped.update(dropped_here)
    return state_dict, dropped


def _strip_encoder_prefix(state_dict: dict, prefixes: tuple[str, ...]) -> tuple[dict, dict[str, list[str]]]:
    prefix = next((p for p in prefixes if any(k.startswith(p) for k in state_dict)), None)
    if prefix is None:
        raise KeyError(f'No key of the checkpoint starts with any of {prefixes}: it holds no such encoder.')
    kept = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    others = [k for k in state_dict if not k.startswith(prefix)]
    return kept, (
        {f'everything outside {prefix!r} (other encoder, projector, predictor, heads)': others} if others else {}
    )


def _drop(state_dict: dict, groups: dict[str, tuple[str, ...]]) -> tuple[dict, dict[str, list[str]]]:
    dropped = {reason: [k for k in state_dict if k.startswith(prefixes)] for reason, prefixes in groups.items()}
    all_dropped = {k for keys in dropped.values() for k in keys}
    return (
        {k: v for k, v in state_dict.items() if k not in all_dropped},
        {reason: keys for reason, keys in dropped.items() if keys},
    )
