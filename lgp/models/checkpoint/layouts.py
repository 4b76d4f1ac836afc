"""Checkpoint layouts lgp reads, and the renaming between the official releases' keys and lgp's (mmpretrain's).

This module is the one home of every checkpoint layout lgp reads: where the backbone, the MAE decoder, the MoCo v3
projector, predictor and momentum encoder sit in each kind of file, and which keys are dropped on purpose.

Backbone layouts (:data:`LAYOUTS`, read by :func:`extract_backbone`), giving an ``LGPViT`` state dict:

===============  =====================================================  =========================================
layout           where                                                  key style
===============  =====================================================  =========================================
``timm``         ``{'model': sd}`` (official MAE release) or a bare sd  ``blocks.{i}.attn.qkv``, ``patch_embed.proj``
``mocov3``       ``{'state_dict': sd}``, ``module.base_encoder.``        timm (official MoCo v3 and the original
                 (``module.momentum_encoder.`` for the momentum one)    Layer Grafted release)
``mmengine``     ``{'state_dict': sd}``, ``backbone.``                   lgp / mmpretrain (``layers.{i}.ln1``)
``backbone``     a backbone-only file (``{'state_dict': sd}`` or sd)     lgp / mmpretrain
===============  =====================================================  =========================================

Whole-model layouts (:data:`MODEL_LAYOUTS`, read by :func:`extract_model`), giving the state dict of lgp's ``LGPMAE``
or ``LGPMoCoV3`` model:

===============  ======================================================  ========================================
layout           official keys                                           lgp keys
===============  ======================================================  ========================================
``mae``          ``{'model': sd}`` of the MAE release with its decoder   ``backbone.*`` (as ``timm`` above) and
                 (``mae_visualize_vit_*.pth``): the encoder in timm      ``neck.*`` in ``MAEPretrainDecoder``
                 names, ``mask_token``, ``decoder_pos_embed``,           names: ``decoder_blocks.{i}.{ln1,``
                 ``decoder_embed``, ``decoder_blocks.{i}.{norm1,``       ``attn.qkv,attn.proj,ln2,``
                 ``attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``,          ``ffn.layers.0.0,ffn.layers.1}``, the
                 ``decoder_norm``, ``decoder_pred``                      norm ``ln1``, the rest unchanged
``mocov3``       ``{'state_dict': sd}`` of MoCo v3 and the original      ``backbone.*``; ``neck.{fc,bn}{l}``
                 Layer Grafted release: ``module.base_encoder.*``        (``NonLinearNeck``);
                 (timm names) with the projector ``head.{3l,3l+1}``      ``head.predictor.{fc,bn}{l}``;
                 (Linear, BN, ReLU per layer ``l``), the predictor       ``momentum_encoder.module.0.*`` and
                 ``module.predictor.{3l,3l+1}``, and                     ``momentum_encoder.module.1.*``;
                 ``module.momentum_encoder.*`` (as base_encoder)         ``momentum_encoder.steps`` = 1
``mmengine``     lgp / mmengine's own ``{'state_dict': sd}``             unchanged
===============  ======================================================  ========================================

Projector layouts (:data:`PROJECTOR_LAYOUTS`, read by :func:`read_projector_first_layer`): where the projector's
first Linear and BN (``NonLinearNeck``'s ``fc0`` / ``bn0``) sit, for the 10 % fine-tuning head.
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
# The official MAE decoder -> mmpretrain's ``MAEPretrainDecoder``: its blocks are named as the encoder's (timm
# ``Block`` -> mmpretrain ``TransformerEncoderLayer``), its norm is ``ln1`` (``build_norm_layer(LN, postfix=1)``);
# mask_token, decoder_pos_embed, decoder_embed and decoder_pred keep their names.
_MAE_DECODER_PAIRS = (
    *(
        (f'decoder_{timm}', 'decoder_blocks.' + lgp.removeprefix('layers.'))
        for timm, lgp in _TIMM_LGP_PAIRS
        if timm.startswith('blocks.')
    ),
    ('decoder_norm.', 'ln1.'),
)
_MAE_DECODER_PREFIXES = ('decoder_', 'mask_token')


def _prefix_rules(pairs: tuple, reverse: bool) -> list[tuple[re.Pattern, str]]:
    rules = []
    for timm_name, lgp_name in pairs:
        src, dst = (lgp_name, timm_name) if reverse else (timm_name, lgp_name)
        pattern = '^' + re.escape(src).replace(re.escape('{i}'), r'(\d+)')
        rules.append((re.compile(pattern), dst.replace('{i}', r'\1')))
    return rules


_TIMM_TO_LGP = _prefix_rules(_TIMM_LGP_PAIRS, reverse=False)
_LGP_TO_TIMM = _prefix_rules(_TIMM_LGP_PAIRS, reverse=True)
_MAE_DECODER_TO_LGP = _prefix_rules(_MAE_DECODER_PAIRS, reverse=False)


def _rename_key(key: str, rules: list) -> str:
    for pattern, replacement in rules:
        if pattern.match(key):
            return pattern.sub(replacement, key, count=1)
    return key


def _rename(state_dict: dict[str, torch.Tensor], rules: list) -> dict[str, torch.Tensor]:
    return {_rename_key(key, rules): value for key, value in state_dict.items()}


def timm_to_lgp(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm ViT backbone state dict to lgp's names (values are shared, not copied)."""
    return _rename(state_dict, _TIMM_TO_LGP)


def lgp_to_timm(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an lgp backbone state dict to timm's ``VisionTransformer`` names (``num_classes=0``)."""
    return _rename(state_dict, _LGP_TO_TIMM)


# The official MoCo v3 MLPs (``MoCo._build_mlp``) are ``nn.Sequential``s of, per layer l, Linear (index 3l), then
# BatchNorm1d (3l + 1) and, except after the last, ReLU (3l + 2, no weights); mmpretrain's ``NonLinearNeck`` names
# the same layers ``fc{l}`` and ``bn{l}``.
_MLP_STRIDE = 3
_MLP_SEQUENTIAL_KEY = re.compile(r'^(\d+)\.(.+)$')


def _mlp_index(neck_name: str) -> str:
    """``fc{l}`` / ``bn{l}`` of a ``NonLinearNeck`` -> its index in the official MoCo v3 ``nn.Sequential``."""
    kind, layer = neck_name[:2], int(neck_name[2:])
    return str(_MLP_STRIDE * layer + {'fc': 0, 'bn': 1}[kind])


def _mlp_key_to_neck(key: str) -> str:
    """``'{index}.{param}'`` of an official MoCo v3 MLP -> ``'{fc,bn}{l}.{param}'``; other keys are kept as they are."""
    match = _MLP_SEQUENTIAL_KEY.match(key)
    if match is None:
        return key
    layer, offset = divmod(int(match.group(1)), _MLP_STRIDE)
    if offset == 2:  # a ReLU has no weights: no key of a real checkpoint lands here
        return key
    return f'{("fc", "bn")[offset]}{layer}.{match.group(2)}'


# Where the parts of lgp's own models sit in their state dicts.
_LGP_PARTS = {
    'backbone': 'backbone.',
    'projector': 'neck.',
    'decoder': 'neck.',
    'predictor': 'head.predictor.',
    'momentum_backbone': 'momentum_encoder.module.0.',
    'momentum_projector': 'momentum_encoder.module.1.',
    'momentum_steps': 'momentum_encoder.steps',
}
# Where the encoders and the predictor sit in the official MoCo v3 / original Layer Grafted release (``module.``:
# saved from DistributedDataParallel; files saved without it are read too).
_MOCOV3_PARTS = {
    'online': ('module.base_encoder.', 'base_encoder.'),
    'momentum': ('module.momentum_encoder.', 'momentum_encoder.'),
    'predictor': ('module.predictor.', 'predictor.'),
}
_MOCOV3_PROJECTOR = 'head.'  # the projector, inside each encoder

# Keys each layout holds besides the backbone, dropped with the reason given.
_TIMM_DROPPED = {
    'MAE decoder (not part of the encoder)': _MAE_DECODER_PREFIXES,
    'classification head (not part of the backbone)': ('head.', 'fc_norm.'),
}
_MOCOV3_DROPPED = {f'MoCo v3 projector ({_MOCOV3_PROJECTOR}*) of the encoder': (_MOCOV3_PROJECTOR,)}
_ENCODER_PREFIXES = {
    'mocov3': {'online': _MOCOV3_PARTS['online'], 'momentum': _MOCOV3_PARTS['momentum']},
    'mmengine': {
        'online': (_LGP_PARTS['backbone'],),
        'momentum': ('momentum_encoder.module.backbone.', _LGP_PARTS['momentum_backbone']),
    },
}
LAYOUTS = ('timm', 'mocov3', 'mmengine', 'backbone')
MODEL_LAYOUTS = ('mae', 'mocov3', 'mmengine')

# layout -> encoder -> (candidate prefixes, {our module name: its name under the prefix}): the projector's first
# Linear and BN, as ``ProjectorClsHead`` (the 10 % fine-tuning head) loads them.
PROJECTOR_LAYOUTS = {
    'mmengine': {
        'online': ((_LGP_PARTS['projector'],), {'fc0': 'fc0', 'bn0': 'bn0'}),
        'momentum': (
            (_LGP_PARTS['momentum_projector'], 'momentum_encoder.module.neck.'),
            {'fc0': 'fc0', 'bn0': 'bn0'},
        ),
    },
    'mocov3': {
        encoder: (
            tuple(prefix + _MOCOV3_PROJECTOR for prefix in _MOCOV3_PARTS[encoder]),
            {'fc0': _mlp_index('fc0'), 'bn0': _mlp_index('bn0')},
        )
        for encoder in ('online', 'momentum')
    },
}


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


def _first_present(state_dict: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> str | None:
    """The first of ``prefixes`` that some key starts with, or None."""
    return next((p for p in prefixes if any(k.startswith(p) for k in state_dict)), None)


def _split_prefix(state_dict: dict[str, torch.Tensor], prefix: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The keys under ``prefix`` with the prefix stripped, and the other keys."""
    kept = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return kept, [k for k in state_dict if not k.startswith(prefix)]


def select_prefix(
    state_dict: dict[str, torch.Tensor], prefix: str | None
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """The keys under ``prefix``, with the prefix stripped (mmengine's ``PretrainedInit(prefix=...)``), and the others.

    As in mmengine, a prefix without a trailing dot gets one (``'backbone'`` selects ``backbone.*``). ``None`` or
    ``''`` selects everything.

    Returns:
        The selected state dict, and ``{reason: keys}`` of the keys left out (empty when none are).

    Raises:
        ValueError: when no key starts with the prefix.
    """
    if not prefix:
        return state_dict, {}
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    kept, others = _split_prefix(state_dict, prefix)
    if not kept:
        first = sorted({k.split('.', 1)[0] + '.' for k in state_dict})[:10]
        raise ValueError(
            f'No key of the checkpoint starts with prefix={prefix!r} (its keys start with {first}). Set prefix to '
            "the part of the names before the module's own (e.g. prefix='backbone.'), or leave it out."
        )
    return kept, ({f'outside prefix {prefix!r}': others} if others else {})


def detect_layout(state_dict: dict[str, torch.Tensor]) -> str:
    """Tell the (backbone) layout of a state dict from its key names: one of :data:`LAYOUTS`."""
    keys = list(state_dict)

    def has(*prefixes: str) -> bool:
        return any(k.startswith(prefixes) for k in keys)

    if has(*_ENCODER_PREFIXES['mocov3']['online']):
        return 'mocov3'
    if has(_LGP_PARTS['backbone']):
        return 'mmengine'
    if has('blocks.'):
        return 'timm'
    if has('layers.'):
        return 'backbone'
    raise ValueError(
        f'Cannot tell the checkpoint layout from its keys (first ones: {keys[:5]}). Pass source= one of {LAYOUTS}.'
    )


def detect_model_layout(state_dict: dict[str, torch.Tensor]) -> str:
    """Tell the whole-model layout of a state dict: one of :data:`MODEL_LAYOUTS`.

    The official releases are recognised by their keys (MoCo v3: ``module.base_encoder.``; MAE: timm encoder keys);
    anything else is taken as lgp / mmengine's own, passed through unchanged for the strict check to judge.
    """
    try:
        layout = detect_layout(state_dict)
    except ValueError:
        return 'mmengine'
    return {'mocov3': 'mocov3', 'timm': 'mae'}.get(layout, 'mmengine')


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


def extract_model(
    state_dict: dict[str, torch.Tensor], layout: str
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """The state dict of lgp's whole model (``LGPMAE`` or ``LGPMoCoV3``), and the keys dropped on purpose, by reason.

    Every key of the official releases has a home, so nothing is dropped from them; a key no rule knows keeps its
    name, so that the strict check names it as unexpected rather than losing it silently.

    Args:
        state_dict: as returned by :func:`unwrap`.
        layout: one of :data:`MODEL_LAYOUTS`:

            - ``mae``: the official MAE release with its decoder -> lgp's ``LGPMAE`` (``backbone.*``, ``neck.*`` of
              mmpretrain's ``MAEPretrainDecoder``), to continue MAE pre-training or draw reconstructions.
            - ``mocov3``: the official MoCo v3 / original Layer Grafted release -> lgp's ``LGPMoCoV3``: ``backbone.*``,
              ``neck.*`` (projector), ``head.predictor.*``, ``momentum_encoder.module.0.*`` (momentum backbone),
              ``momentum_encoder.module.1.*`` (momentum projector) and ``momentum_encoder.steps``, set to 1:
              mmengine's averaged model copies the online weights at its first update when ``steps == 0``, so
              ``steps > 0`` is what makes the momentum encoder continue from the file's momentum weights (by the
              EMA rule) instead of being replaced by the online ones. Its BN statistics are the file's until that
              first update, when mmengine copies the online model's buffers, as at every update.
            - ``mmengine``: lgp / mmengine's own checkpoint, returned unchanged.
    """
    if layout == 'mmengine':
        return dict(state_dict), {}
    if layout == 'mae':
        return _mae_model(state_dict), {}
    if layout == 'mocov3':
        return _mocov3_model(state_dict), {}
    raise ValueError(f'Unknown whole-model layout {layout!r}; choose one of {MODEL_LAYOUTS}.')


def _mae_model(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if not any(k.startswith(_MAE_DECODER_PREFIXES) for k in state_dict):
        raise ValueError(
            'This MAE checkpoint holds no decoder (mask_token, decoder_*): it is encoder-only (such as '
            'mae_pretrain_vit_*.pth). Load it into a backbone (init_cfg=dict(type="Pretrained", checkpoint=PATH) or '
            'load_backbone_checkpoint); a whole MAE model needs a release with its decoder (mae_visualize_vit_*.pth).'
        )
    model = {}
    for key, value in state_dict.items():
        if key.startswith(_MAE_DECODER_PREFIXES):
            model[_LGP_PARTS['decoder'] + _rename_key(key, _MAE_DECODER_TO_LGP)] = value
        else:
            model[_LGP_PARTS['backbone'] + _rename_key(key, _TIMM_TO_LGP)] = value
    return model


def _mocov3_model(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # the prefix of each part, with or without DistributedDataParallel's module.
    online, momentum, predictor = (
        _first_present(state_dict, _MOCOV3_PARTS[p]) for p in ('online', 'momentum', 'predictor')
    )
    encoders = [
        (prefix, _LGP_PARTS[backbone], _LGP_PARTS[projector])
        for prefix, backbone, projector in (
            (online, 'backbone', 'projector'),
            (momentum, 'momentum_backbone', 'momentum_projector'),
        )
        if prefix is not None
    ]
    model = {}
    for key, value in state_dict.items():
        new_key = key  # a key of no known part keeps its name (the strict check names it)
        for prefix, backbone, projector in encoders:
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if name.startswith(_MOCOV3_PROJECTOR):
                    new_key = projector + _mlp_key_to_neck(name[len(_MOCOV3_PROJECTOR) :])
                else:
                    new_key = backbone + _rename_key(name, _TIMM_TO_LGP)
                break
        else:
            if predictor is not None and key.startswith(predictor):
                new_key = _LGP_PARTS['predictor'] + _mlp_key_to_neck(key[len(predictor) :])
        model[new_key] = value
    if momentum is not None:
        model[_LGP_PARTS['momentum_steps']] = torch.tensor(1, dtype=torch.long)
    return model


def read_projector_first_layer(
    state_dict: dict[str, torch.Tensor], source: str = 'auto', encoder: str = 'online'
) -> tuple[dict[str, torch.Tensor], str]:
    """The projector's first Linear and BN as ``{'fc0.weight': ..., 'bn0.weight': ..., ...}`` and the layout read.

    Returns an empty dict when no key of the layout(s) tried is present (the caller reports what is missing).
    """
    layouts = list(PROJECTOR_LAYOUTS) if source == 'auto' else [source]
    if any(layout not in PROJECTOR_LAYOUTS for layout in layouts):
        raise ValueError(f'source must be auto or one of {list(PROJECTOR_LAYOUTS)}, got {source!r}.')
    if encoder not in ('online', 'momentum'):
        raise ValueError(f"encoder must be 'online' or 'momentum', got {encoder!r}.")
    for layout in layouts:
        prefixes, names = PROJECTOR_LAYOUTS[layout][encoder]
        for prefix in prefixes:
            found = {}
            for ours, theirs in names.items():
                start = f'{prefix}{theirs}.'
                found.update({f'{ours}.{k[len(start) :]}': v for k, v in state_dict.items() if k.startswith(start)})
            if found:
                return found, layout
    return {}, source


def _strip_encoder_prefix(state_dict: dict, prefixes: tuple[str, ...]) -> tuple[dict, dict[str, list[str]]]:
    prefix = _first_present(state_dict, prefixes)
    if prefix is None:
        raise KeyError(f'No key of the checkpoint starts with any of {prefixes}: it holds no such encoder.')
    kept, others = _split_prefix(state_dict, prefix)
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
