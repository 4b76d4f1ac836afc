"""The pretrained load of an ``init_cfg``, in every form mmengine accepts, as one spec lgp's strict loaders take.

mmengine's ``BaseModule`` takes ``init_cfg`` as None, a dict (or ``ConfigDict``) or a list of them, and treats an
entry whose ``type`` is ``'Pretrained'`` or the class ``PretrainedInit`` as a checkpoint to load (non-strictly,
after every other initialiser). lgp's modules load that checkpoint themselves, strictly, after their own
initialisation; :func:`split_init_cfg` finds it in whichever form it was written, so that no form is silently
loaded by mmengine and then overwritten.
"""

from typing import Any

from mmengine.model.weight_init import PretrainedInit

# The keys of a Pretrained entry lgp understands, with their defaults (``checkpoint`` has none).
PRETRAINED_DEFAULTS = {'prefix': None, 'source': 'auto', 'encoder': 'online'}
# mmengine's key that lgp accepts and ignores: checkpoints are always read on the CPU, then copied into the model.
_IGNORED = ('map_location',)
_EXAMPLE = "dict(type='Pretrained', checkpoint=PATH, prefix=None, source='auto', encoder='online')"
_HINTS = {
    'strict': 'lgp always loads strictly (every key checked, all or nothing); remove it.',
    'revise_keys': "to take a part of a checkpoint, write prefix='backbone.' (the keys under it, stripped).",
    'filename': 'write checkpoint=PATH.',
    'path': 'write checkpoint=PATH.',
    'layout': "write source= (the checkpoint layout, or 'auto').",
}


def is_pretrained_type(init_type: Any) -> bool:
    """Whether an init_cfg ``type`` means a pretrained load: ``'Pretrained'`` (also registry-scoped, e.g.
    ``'mmengine.Pretrained'``) or the class ``PretrainedInit`` (or a subclass)."""
    if isinstance(init_type, str):
        return init_type.rsplit('.', 1)[-1] == 'Pretrained'
    return isinstance(init_type, type) and issubclass(init_type, PretrainedInit)


def split_init_cfg(init_cfg: Any) -> tuple[dict[str, Any] | None, list[dict]]:
    """Split an ``init_cfg`` into its pretrained load and the other initialisers.

    Args:
        init_cfg: None, a dict / ``ConfigDict``, or a list (or tuple) of them, as mmengine's ``BaseModule`` takes.

    Returns:
        ``(pretrained, others)``: ``pretrained`` is None or a plain dict ``{'checkpoint', 'prefix', 'source',
        'encoder'}`` (``map_location`` is accepted and left out: lgp reads on the CPU), ready for
        ``load_backbone_checkpoint(module, **pretrained)``; ``others`` lists the other entries as given, in order,
        for mmengine's ``initialize(module, others)``.

    Raises:
        ValueError: more than one pretrained entry, a pretrained entry without ``checkpoint``, a key lgp does not
            know in it, or an entry without ``type``; the message says what to write instead.
        TypeError: an init_cfg that is not None, a dict or a list of dicts.
    """
    if not init_cfg:
        return None, []
    if isinstance(init_cfg, dict):
        entries = [init_cfg]
    elif isinstance(init_cfg, (list, tuple)):
        entries = list(init_cfg)
    else:
        raise TypeError(f'init_cfg must be None, a dict or a list of dicts, got {type(init_cfg).__name__}.')
    pretrained, others = [], []
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError(f'Each init_cfg entry must be a dict, got {type(entry).__name__}: {entry!r}.')
        if 'type' not in entry:
            raise ValueError(
                f'The init_cfg entry {dict(entry)} has no type. Write {_EXAMPLE} for a checkpoint, or one of '
                "mmengine's initialisers (e.g. dict(type='TruncNormal', layer='Linear', std=0.02))."
            )
        (pretrained if is_pretrained_type(entry['type']) else others).append(entry)
    if len(pretrained) > 1:
        checkpoints = [entry.get('checkpoint') for entry in pretrained]
        raise ValueError(
            f'init_cfg holds {len(pretrained)} Pretrained entries (checkpoints {checkpoints}); a module loads one '
            f'checkpoint. Keep one: {_EXAMPLE} (prefix= takes the part of a checkpoint under that prefix).'
        )
    if not pretrained:
        return None, others
    return _pretrained_spec(pretrained[0]), others


def _pretrained_spec(entry: dict) -> dict[str, Any]:
    unknown = sorted(set(entry) - {'type', 'checkpoint', *PRETRAINED_DEFAULTS, *_IGNORED})
    if unknown:
        hints = ' '.join(f'{key}: {_HINTS[key]}' for key in unknown if key in _HINTS)
        raise ValueError(
            f'Unknown key(s) {unknown} in the Pretrained init_cfg {dict(entry)}. lgp understands checkpoint, prefix, '
            f'source, encoder (and map_location, ignored: lgp reads on the CPU). Write {_EXAMPLE}.'
            + (f' {hints}' if hints else '')
        )
    checkpoint = entry.get('checkpoint')
    if checkpoint is None or checkpoint == '':
        raise ValueError(
            f'The Pretrained init_cfg {dict(entry)} names no checkpoint. Write {_EXAMPLE} with the file to load '
            '(e.g. --cfg-options model.backbone.init_cfg.checkpoint=PATH), or remove the entry to train from scratch.'
        )
    encoder = entry.get('encoder', PRETRAINED_DEFAULTS['encoder'])
    if encoder not in ('online', 'momentum'):
        raise ValueError(f"encoder must be 'online' or 'momentum' in the Pretrained init_cfg, got {encoder!r}.")
    spec = {'checkpoint': checkpoint}
    spec.update({key: entry.get(key, default) for key, default in PRETRAINED_DEFAULTS.items()})
    return spec
