"""The lr and weight-decay multipliers of every parameter: pure rules, free of mmengine and of any model.

:class:`lgp.engine.GraftedOptimWrapperConstructor` describes each parameter as a :class:`ParamSite` (where it sits in
the backbone's block map, its shape) and asks :func:`assign_multipliers` for its (m, w); this module is where those
rules live and are checked.

Symbols: L the backbone's depth (blocks), eta the optimiser's base lr, lambda its base weight decay, m(p) the lr
multiplier of parameter p (its lr is m(p) * eta), w(p) its weight-decay multiplier (its weight decay is
w(p) * lambda), d the layer-decay rate, id(p) the layer id of a backbone parameter: 0 for the embeddings, i + 1 for
block i, L + 1 for the final norm.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

EMBED, BLOCK, TOP, OUTSIDE = 'embeddings', 'block', 'final norm', 'outside backbone'
SCHEMES = ('block_groups', 'lr_layer_wise', 'layer_decay')
TOKEN_NAMES = ('pos_embed', 'cls_token', 'mask_token')
# name -> (which trained tensors get no weight decay, whose recipe it is)
WEIGHT_DECAY_RULES = {
    'all': ('none: every trained tensor is decayed', 'official MoCo v3 (AdamW over model.parameters())'),
    'skip_1d': (
        '1-D tensors (norms, biases)',
        'official MAE pre-training; the original Layer Grafted step 2 (param_groups_lrd_moco)',
    ),
    'skip_1d_and_tokens': (
        '1-D tensors and pos_embed, cls_token, mask_token',
        'MAE / BEiT fine-tuning and their ADE20K transfer; mmpretrain and mmseg configs',
    ),
}
MULT_KEYS = ('embed_lr_mult', 'norm_lr_mult', 'head_lr_mult', 'decay_mult')
CUSTOM_KEY_FIELDS = ('lr_mult', 'decay_mult')
# Leaf names that are embeddings even where the backbone's layer id does not say so.
EMBED_LEAF_NAMES = ('mask_token',)
DEFAULTS = dict(
    backbone='backbone',
    block_groups=None,
    lr_layer_wise=None,
    layer_decay=None,
    embed_lr_mult=None,
    norm_lr_mult=1.0,
    head_lr_mult=1.0,
    weight_decay_rule='all',
    decay_mult=1.0,
    custom_keys={},
)


def check_mult(what: str, value: Any) -> float:
    """A multiplier must be a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f'{what} must be a finite number >= 0, got {value!r}.')
    return float(value)


def format_blocks(blocks: Sequence[int]) -> str:
    """``[0, 1, 2, 3, 5]`` -> ``'blocks 0-3, 5'``; ``[4]`` -> ``'block 4'``."""
    runs: list[list[int]] = []
    for i in sorted(blocks):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ', '.join(f'{a}-{b}' if b > a else f'{a}' for a, b in runs)
    return f'block {text}' if len(blocks) == 1 else f'blocks {text}'


def parse_lr_layer_wise(values: str | Sequence[float]) -> list[float]:
    """Parse the original code's flag ``--lr_layer_wise 1.5e-5,1.5e-5,1.5e-4`` (or a list of floats).

    Returns the lrs v_1..v_n of n equal consecutive block groups, lowest first; v_n (the top group) must be > 0.
    """
    try:
        parsed = [float(v) for v in (values.split(',') if isinstance(values, str) else values)]
    except (TypeError, ValueError) as err:
        raise ValueError(
            f'lr_layer_wise must be comma-separated numbers such as "1.5e-5,1.5e-5,1.5e-4" or a list '
            f'of floats, got {values!r}.'
        ) from err
    if not parsed or not all(math.isfinite(v) and v >= 0 for v in parsed) or parsed[-1] <= 0:
        raise ValueError(
            f'lr_layer_wise needs at least one value, all finite and >= 0, and a last (top) value > 0: '
            f'the multipliers are v_i / v_last. Got {values!r}.'
        )
    return parsed


def layer_wise_block_groups(values: Sequence[float], num_blocks: int) -> list[dict]:
    """Split L blocks into n = len(values) equal consecutive groups with m_k = v_k / v_n (the original's rule)."""
    n = len(values)
    if num_blocks % n:
        raise ValueError(
            f'lr_layer_wise has {n} values but the backbone has {num_blocks} blocks, which do not split '
            f'into {n} equal groups: give a number of values that divides {num_blocks}, or use '
            f'block_groups=[dict(blocks=(start, end), lr_mult=m), ...] for unequal groups.'
        )
    size = num_blocks // n
    return [dict(blocks=(k * size, (k + 1) * size), lr_mult=v / values[-1]) for k, v in enumerate(values)]


def _check_block_group(k: int, group: Any, num_blocks: int) -> tuple[int, int, float]:
    """Validate ``block_groups[k] = dict(blocks=(start, end), lr_mult=m)`` against L blocks."""
    if not isinstance(group, dict) or set(group) != {'blocks', 'lr_mult'}:
        raise ValueError(f'block_groups[{k}] must be dict(blocks=(start, end), lr_mult=m), got {group!r}.')
    blocks = group['blocks']
    if (
        not isinstance(blocks, Sequence)
        or len(blocks) != 2
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in blocks)
    ):
        raise ValueError(f'block_groups[{k}]: blocks must be a pair of ints (start, end), got {blocks!r}.')
    start, end = blocks
    if not 0 <= start < end <= num_blocks:
        raise ValueError(
            f'block_groups[{k}] has blocks=({start}, {end}), which is empty or out of range: the backbone '
            f'has {num_blocks} blocks and ranges are half-open (start, end) with '
            f'0 <= start < end <= {num_blocks}.'
        )
    return start, end, check_mult(f'block_groups[{k}] lr_mult', group['lr_mult'])


def block_group_multipliers(block_groups: Sequence[dict], num_blocks: int) -> list[float]:
    """m_i for each block i in 0..L-1 from half-open ranges ``dict(blocks=(start, end), lr_mult=m)``.

    Every block must be in exactly one group; overlaps and gaps raise a ``ValueError`` naming the blocks.
    """
    owners: list[list[int]] = [[] for _ in range(num_blocks)]
    mults = [1.0] * num_blocks
    for k, group in enumerate(block_groups):
        start, end, mult = _check_block_group(k, group, num_blocks)
        for i in range(start, end):
            owners[i].append(k)
            mults[i] = mult
    shared: dict[tuple, list[int]] = {}
    for i, own in enumerate(owners):
        if len(own) > 1:
            shared.setdefault(tuple(own), []).append(i)
    if shared:
        where = '; '.join(f'{format_blocks(b)} in groups {list(own)}' for own, b in shared.items())
        raise ValueError(
            f'block_groups overlap: {where}. Each block must be in exactly one group: make the '
            f'half-open ranges (start, end) disjoint, e.g. (0, 4) and (4, {num_blocks}).'
        )
    uncovered = [i for i, own in enumerate(owners) if not own]
    if uncovered:
        first = uncovered[0]
        last = next((i for i in range(first, num_blocks) if owners[i]), num_blocks)
        raise ValueError(
            f'block_groups leave {format_blocks(uncovered)} of the {num_blocks} blocks (0-'
            f'{num_blocks - 1}) uncovered: every block needs exactly one group. Extend a range or add '
            f'e.g. dict(blocks=({first}, {last}), lr_mult=1.0); ranges are half-open (start, end).'
        )
    return mults


def check_options(paramwise_cfg: dict | None) -> dict:
    """``paramwise_cfg`` merged with :data:`DEFAULTS`, checked before any model is seen.

    Block ranges are checked against L later, by :func:`block_multipliers`.
    """
    cfg = {} if paramwise_cfg is None else paramwise_cfg
    if not isinstance(cfg, dict):
        raise TypeError(f'paramwise_cfg must be None or a dict, got {type(cfg).__name__}.')
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f'Unknown paramwise_cfg keys {unknown} for GraftedOptimWrapperConstructor; it accepts '
            f'{list(DEFAULTS)} (see lgp/engine/optimizers/lr_schemes.py).'
        )
    options = {**DEFAULTS, **cfg}
    schemes = [key for key in SCHEMES if options[key] is not None]
    if len(schemes) > 1:
        raise ValueError(f'paramwise_cfg sets {schemes}: give at most one of {list(SCHEMES)}.')
    if options['lr_layer_wise'] is not None:
        parse_lr_layer_wise(options['lr_layer_wise'])
    if options['layer_decay'] is not None and check_mult('layer_decay', options['layer_decay']) == 0:
        raise ValueError('layer_decay must be > 0.')
    for key in MULT_KEYS:
        if options[key] is not None:
            check_mult(key, options[key])
    if options['backbone'] is None and (schemes or options['embed_lr_mult'] is not None):
        raise ValueError(
            f'paramwise_cfg backbone=None cannot be combined with {schemes or ["embed_lr_mult"]}: '
            "they need the backbone's block map."
        )
    if options['weight_decay_rule'] not in WEIGHT_DECAY_RULES:
        rules = '; '.join(f'{name!r}: {what} ({whose})' for name, (what, whose) in WEIGHT_DECAY_RULES.items())
        raise ValueError(
            f'weight_decay_rule must be one of {list(WEIGHT_DECAY_RULES)}, got {options["weight_decay_rule"]!r}. '
            f'No weight decay on: {rules}.'
        )
    _check_custom_keys(options['custom_keys'])
    return options


def _check_custom_keys(custom_keys: Any) -> None:
    if not isinstance(custom_keys, dict):
        raise TypeError(f'custom_keys must be a dict, got {type(custom_keys).__name__}.')
    for key, spec in custom_keys.items():
        if not isinstance(spec, dict) or set(spec) - set(CUSTOM_KEY_FIELDS):
            raise ValueError(
                f'custom_keys[{key!r}] must be a dict with keys among {list(CUSTOM_KEY_FIELDS)}, got {spec!r}.'
            )
        for name, value in spec.items():
            check_mult(f'custom_keys[{key!r}][{name!r}]', value)


@dataclass
class ParamSite:
    """Where a parameter sits: its full name, shape, place in the block map, and (once assigned) its m and w."""

    name: str
    ndim: int
    numel: int
    trainable: bool
    kind: str
    block: int | None
    layer_id: int
    lr_mult: float = 1.0
    decay_mult: float = 1.0


def locate(
    name: str, backbone_name: str | None, layer_id: Callable[[str], int] | None, num_layers: int
) -> tuple[str, int | None, int]:
    """(kind, block index, id(p)) of a parameter; ``backbone_name`` is its name in the backbone, None outside it."""
    if backbone_name is None:
        return OUTSIDE, None, num_layers + 1
    lid = layer_id(backbone_name)
    if lid < 0:
        raise ValueError(f'The backbone maps {backbone_name!r} to layer id {lid}; ids must be >= 0.')
    if lid == 0 or name.rsplit('.', 1)[-1] in EMBED_LEAF_NAMES:
        return EMBED, None, 0
    if lid <= num_layers:
        return BLOCK, lid - 1, lid
    return TOP, None, num_layers + 1


def block_multipliers(options: dict, num_layers: int, model_block_groups: Sequence[dict] | None = None) -> list[float]:
    """m_i of blocks 0..L-1: the configured scheme, or the block groups the model declares for itself."""
    if model_block_groups is not None:
        return block_group_multipliers(model_block_groups, num_layers)
    if options['layer_decay'] is not None:
        return [options['layer_decay'] ** (num_layers - i) for i in range(num_layers)]
    if options['lr_layer_wise'] is not None:
        groups = layer_wise_block_groups(parse_lr_layer_wise(options['lr_layer_wise']), num_layers)
        return block_group_multipliers(groups, num_layers)
    if options['block_groups'] is not None:
        return block_group_multipliers(options['block_groups'], num_layers)
    return [1.0] * num_layers


def lr_multiplier(site: ParamSite, options: dict, block_mults: list[float], num_layers: int) -> float:
    """m(p): the block's multiplier; the embeddings follow block 0 (or d ** (L + 1)) unless set."""
    if site.kind == OUTSIDE:
        return float(options['head_lr_mult'])
    if site.kind == TOP:
        return float(options['norm_lr_mult'])
    if site.kind == BLOCK:
        return block_mults[site.block]
    if options['embed_lr_mult'] is not None:
        return float(options['embed_lr_mult'])
    if options['layer_decay'] is not None:
        return options['layer_decay'] ** (num_layers + 1)
    return block_mults[0] if block_mults else 1.0


def decay_multiplier(site: ParamSite, options: dict) -> float:
    """w(p): 0 where the weight-decay rule exempts the tensor, else ``decay_mult``."""
    rule = options['weight_decay_rule']
    if rule in ('skip_1d', 'skip_1d_and_tokens') and site.ndim <= 1:
        return 0.0
    if rule == 'skip_1d_and_tokens' and site.name.rsplit('.', 1)[-1] in TOKEN_NAMES:
        return 0.0
    return float(options['decay_mult'])


def apply_custom_keys(sites: list[ParamSite], custom_keys: dict) -> list[str]:
    """Multiply m and w of trainable sites by the longest matching key (ties: alphabetical, as mmengine).

    Returns the keys that match only frozen parameters. A key that matches no parameter raises ``ValueError``.
    """
    names = [s.name for s in sites]
    unmatched = [key for key in custom_keys if not any(key in n for n in names)]
    if unmatched:
        raise ValueError(
            f'custom_keys {unmatched} match no parameter of the model (keys are substrings of full '
            f'parameter names such as {names[0]!r}); fix or remove them.'
        )
    trainable = [s for s in sites if s.trainable]
    only_frozen = [key for key in custom_keys if not any(key in s.name for s in trainable)]
    keys = sorted(sorted(custom_keys), key=len, reverse=True)
    for site in trainable:
        key = next((k for k in keys if k in site.name), None)
        if key is not None:
            site.lr_mult *= float(custom_keys[key].get('lr_mult', 1.0))
            site.decay_mult *= float(custom_keys[key].get('decay_mult', 1.0))
    return only_frozen


def assign_multipliers(
    sites: list[ParamSite], options: dict, num_layers: int, model_block_groups: Sequence[dict] | None = None
) -> list[str]:
    """Give every trainable site its m(p) and w(p) (in place); returns the custom keys matching only frozen ones."""
    block_mults = block_multipliers(options, num_layers, model_block_groups) if options['backbone'] else []
    for site in sites:
        if site.trainable:
            site.lr_mult = lr_multiplier(site, options, block_mults, num_layers)
            site.decay_mult = decay_multiplier(site, options)
    return apply_custom_keys(sites, options['custom_keys'])


@dataclass
class ParamGroup:
    """Trainable parameters sharing (m, w): one optimiser param group."""

    lr_mult: float
    decay_mult: float
    members: list[ParamSite] = field(default_factory=list)

    @property
    def description(self) -> str:
        """Contents, e.g. ``'embeddings + blocks 0-7'`` or ``'final norm + outside backbone (neck)'``."""
        kinds = {m.kind for m in self.members}
        parts = ['embeddings'] if EMBED in kinds else []
        blocks = sorted({m.block for m in self.members if m.kind == BLOCK})
        if blocks:
            parts.append(format_blocks(blocks))
        if TOP in kinds:
            parts.append('final norm')
        outside = list(dict.fromkeys(m.name.split('.', 1)[0] for m in self.members if m.kind == OUTSIDE))
        if outside:
            parts.append(f'outside backbone ({", ".join(outside)})')
        return ' + '.join(parts)


def group_sites(sites: list[ParamSite]) -> list[ParamGroup]:
    """Trainable sites grouped by (m, w); groups with m = 1 first, the rest in order of first appearance.

    mmengine logs param group 0's lr, which is then the schedule of the optimiser's own lr.
    """
    groups: dict[tuple[float, float], ParamGroup] = {}
    for site in sites:
        if site.trainable:
            groups.setdefault((site.lr_mult, site.decay_mult), ParamGroup(site.lr_mult, site.decay_mult))
            groups[site.lr_mult, site.decay_mult].members.append(site)
    return sorted(groups.values(), key=lambda g: g.lr_mult != 1.0)


def frozen_summary(sites: list[ParamSite]) -> str:
    """``'embeddings: 3, blocks 0-3: 48, momentum_encoder: 152'``: counts of frozen tensors by place."""
    frozen = [s for s in sites if not s.trainable]
    blocks = sorted({s.block for s in frozen if s.kind == BLOCK})
    counts: dict[str, int] = {}
    for s in frozen:
        label = {EMBED: 'embeddings', TOP: 'final norm'}.get(s.kind)
        label = label or (format_blocks(blocks) if s.kind == BLOCK else s.name.split('.', 1)[0])
        counts[label] = counts.get(label, 0) + 1
    return ', '.join(f'{label}: {n}' for label, n in counts.items())


def format_table(groups: list[ParamGroup], base_lr: float, base_wd: float) -> str:
    """The groups as a text table: contents, tensor and element counts, lr, lr multiplier, weight decay."""
    header = ('#', 'group', 'tensors', 'params', 'lr', 'lr mult', 'weight decay')
    rows = [
        (
            k,
            g.description,
            len(g.members),
            f'{sum(m.numel for m in g.members):,}',
            f'{base_lr * g.lr_mult:.4g}',
            f'{g.lr_mult:.4g}',
            f'{base_wd * g.decay_mult:.4g}',
        )
        for k, g in enumerate(groups)
    ]
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    return '\n'.join(' | '.join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in [header, *rows])


__all__ = [
    'DEFAULTS',
    'SCHEMES',
    'WEIGHT_DECAY_RULES',
    'ParamGroup',
    'ParamSite',
    'assign_multipliers',
    'block_group_multipliers',
    'block_multipliers',
    'check_options',
    'format_table',
    'frozen_summary',
    'group_sites',
    'layer_wise_block_groups',
    'locate',
    'parse_lr_layer_wise',
]
