"""Layer-wise learning rates for Layer Grafted Pre-training (LGP), its fine-tuning and its segmentation transfer.

Symbols: L the backbone's depth (number of blocks), eta the optimiser's base lr, lambda its base weight decay,
m(p) the lr multiplier of parameter p (its lr is m(p) * eta), d the layer-decay rate, id(p) the layer id of a
backbone parameter: 0 for the embeddings, i + 1 for block i, L + 1 for the final norm.

LGP step 2 (MoCo v3 started from MAE weights) trains the lower blocks at m = 0.1 and the upper blocks, the final
norm, the projector and the predictor at m = 1 ("smoothing the graft"); fine-tuning and ADE20K use layer decay,
m(p) = d ** (L + 1 - id(p)).

The multipliers are baked into each param group's ``lr``. mmengine's schedulers scale every group by the same
factor, so the ratios hold through ``LinearLR`` warm-up and ``CosineAnnealingLR`` / ``PolyLR`` only with
``eta_min=0`` (an absolute ``eta_min`` bends them at the end of the schedule; use ``eta_min_ratio``).
"""

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS

EMBED, BLOCK, TOP, OUTSIDE = 'embeddings', 'block', 'final norm', 'outside backbone'
SCHEMES = ('block_groups', 'lr_layer_wise', 'layer_decay')
MULT_KEYS = ('embed_lr_mult', 'norm_lr_mult', 'head_lr_mult', 'decay_mult')
CUSTOM_KEY_FIELDS = ('lr_mult', 'decay_mult')
# Leaf names that are embeddings even where the backbone's layer_id does not say so.
EMBED_LEAF_NAMES = ('mask_token',)
DEFAULTS = dict(
    backbone='backbone',
    block_groups=None,
    lr_layer_wise=None,
    layer_decay=None,
    embed_lr_mult=None,
    norm_lr_mult=1.0,
    head_lr_mult=1.0,
    no_decay_1d=True,
    no_decay_names=('pos_embed', 'cls_token', 'mask_token'),
    decay_mult=1.0,
    custom_keys={},
)


def _check_mult(what: str, value: Any) -> float:
    """A multiplier must be a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f'{what} must be a finite number >= 0, got {value!r}.')
    return float(value)


def _format_blocks(blocks: Sequence[int]) -> str:
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
    return start, end, _check_mult(f'block_groups[{k}] lr_mult', group['lr_mult'])


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
        where = '; '.join(f'{_format_blocks(b)} in groups {list(own)}' for own, b in shared.items())
        raise ValueError(
            f'block_groups overlap: {where}. Each block must be in exactly one group: make the '
            f'half-open ranges (start, end) disjoint, e.g. (0, 4) and (4, {num_blocks}).'
        )
    uncovered = [i for i, own in enumerate(owners) if not own]
    if uncovered:
        first = uncovered[0]
        last = next((i for i in range(first, num_blocks) if owners[i]), num_blocks)
        raise ValueError(
            f'block_groups leave {_format_blocks(uncovered)} of the {num_blocks} blocks (0-'
            f'{num_blocks - 1}) uncovered: every block needs exactly one group. Extend a range or add '
            f'e.g. dict(blocks=({first}, {last}), lr_mult=1.0); ranges are half-open (start, end).'
        )
    return mults


def _layer_map(backbone: nn.Module) -> tuple[Callable[[str], int], int]:
    """The backbone's block map ``name -> id(p)`` and its depth L (``layer_id`` or mmpretrain's ``get_layer_depth``)."""
    if hasattr(backbone, 'layer_id'):
        return backbone.layer_id, int(backbone.num_layers)
    if hasattr(backbone, 'get_layer_depth'):  # returns (id(p), L + 2)
        num_layers = backbone.get_layer_depth(next(n for n, _ in backbone.named_parameters()))[1] - 2
        return (lambda n: backbone.get_layer_depth(n)[0]), num_layers
    raise ValueError(
        f'The backbone {type(backbone).__name__} has neither layer_id(name) nor get_layer_depth(name): '
        'GraftedOptimWrapperConstructor needs one of them to map parameters to blocks (see LGPViT).'
    )


def _optimizer_defaults(optimizer_cfg: dict) -> tuple[type, float, float]:
    """The optimiser class and its base lr eta and weight decay lambda (the class's defaults if not configured)."""
    optimizer_cls = optimizer_cfg['type']
    if isinstance(optimizer_cls, str):
        with OPTIMIZERS.switch_scope_and_registry(None) as registry:
            optimizer_cls = registry.get(optimizer_cfg['type'])
        if optimizer_cls is None:
            raise ValueError(f'Unknown optimizer type {optimizer_cfg["type"]!r}.')
    signature = inspect.signature(optimizer_cls).parameters

    def default(key: str) -> Any:
        if optimizer_cfg.get(key) is not None:
            return optimizer_cfg[key]
        param = signature.get(key)
        return None if param is None or param.default is inspect.Parameter.empty else param.default

    lr, wd = default('lr'), default('weight_decay')
    if lr is None:
        raise ValueError(f'optimizer {optimizer_cls.__name__} needs an lr: the group lrs are multiples of it.')
    return optimizer_cls, float(lr), float(wd or 0.0)


@dataclass
class _Param:
    """One parameter tensor with its place in the block map and, once trainable, its multipliers."""

    name: str
    param: nn.Parameter
    kind: str
    block: int | None
    layer_id: int
    lr_mult: float = 1.0
    decay_mult: float = 1.0


@dataclass
class _Group:
    """Parameters sharing (lr multiplier, weight-decay multiplier): one optimiser param group."""

    lr_mult: float
    decay_mult: float
    members: list[_Param] = field(default_factory=list)

    @property
    def description(self) -> str:
        return _describe(self.members)

    def param_group(self, base_lr: float, base_wd: float) -> dict:
        """The optimiser's param group: lr = m * eta, weight_decay = w * lambda, plus the informative keys."""
        return dict(
            params=[m.param for m in self.members],
            lr=base_lr * self.lr_mult,
            weight_decay=base_wd * self.decay_mult,
            lr_mult=self.lr_mult,
            decay_mult=self.decay_mult,
            layer_id=sorted({m.layer_id for m in self.members}),
            param_names=[m.name for m in self.members],
            group_name=self.description,
        )


def _describe(members: Sequence[_Param]) -> str:
    """Human-readable contents, e.g. ``'embeddings + blocks 0-7'`` or ``'final norm + outside backbone (neck)'``."""
    kinds = {m.kind for m in members}
    parts = ['embeddings'] if EMBED in kinds else []
    blocks = sorted({m.block for m in members if m.kind == BLOCK})
    if blocks:
        parts.append(_format_blocks(blocks))
    if TOP in kinds:
        parts.append('final norm')
    outside = list(dict.fromkeys(m.name.split('.', 1)[0] for m in members if m.kind == OUTSIDE))
    if outside:
        parts.append(f'outside backbone ({", ".join(outside)})')
    return ' + '.join(parts)


def _frozen_summary(frozen: Sequence[_Param]) -> str:
    """``'embeddings: 3, blocks 0-3: 48, momentum_encoder: 152'`` (tensor counts)."""
    counts: dict[str, int] = {}
    blocks = sorted({m.block for m in frozen if m.kind == BLOCK})
    for m in frozen:
        label = {EMBED: 'embeddings', TOP: 'final norm'}.get(m.kind)
        label = label or (_format_blocks(blocks) if m.kind == BLOCK else m.name.split('.', 1)[0])
        counts[label] = counts.get(label, 0) + 1
    return ', '.join(f'{label}: {n}' for label, n in counts.items())


def _format_table(rows: list[tuple], header: tuple) -> str:
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    return '\n'.join(' | '.join(str(v).ljust(w) for v, w in zip(r, widths, strict=False)) for r in [header, *rows])


class GraftedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Param groups with block-wise lr multipliers, for LGP pre-training, fine-tuning and mmseg transfer.

    Every trainable parameter p gets ``lr = m(p) * eta`` and ``weight_decay = lambda * w(p)``; parameters sharing
    (m, w) form one param group. Groups with m = 1 come first (mmengine logs param group 0's lr, which is then the
    optimiser's own schedule), the others follow in the order of first appearance in ``model.named_parameters()``.
    Each group also carries ``lr_mult`` (m), ``decay_mult`` (w), ``layer_id`` (sorted ids of its members),
    ``param_names`` and ``group_name``; a table of the groups is logged at build time. Parameters with
    ``requires_grad=False`` (the fixed sin-cos ``pos_embed``, a stop-gradient ``patch_embed``, ``frozen_stages``,
    MoCo v3's ``momentum_encoder``) are left out of the optimiser and counted as frozen in the log. ``lr_mult=0`` is
    not freezing: freeze with ``requires_grad=False``.

    The backbone's parameters are mapped to blocks with its ``layer_id(name)`` (or mmpretrain's
    ``get_layer_depth(name)``): id 0 the embeddings (``cls_token``, ``pos_embed``, ``patch_embed``, plus any
    ``mask_token``), id i + 1 block i, id L + 1 the final norm and any other backbone parameter. Everything
    outside the backbone (neck / projector, head / predictor, MAE decoder, decode heads) is "outside backbone".

    ``paramwise_cfg`` keys (unknown keys raise ``ValueError``):

    - ``backbone`` (str, ``'backbone'``): attribute path of the backbone in the model (``model.backbone`` for
      mmpretrain's self-supervisors and classifiers and mmseg's segmentors). ``None``: no backbone, every
      parameter is outside it (only the weight-decay rules and ``custom_keys`` then apply).
    - at most one block scheme (none: every multiplier 1):

      - ``block_groups`` (list of ``dict(blocks=(start, end), lr_mult=m)``): half-open ranges over block indices
        0..L-1 covering every block exactly once (overlaps and gaps raise ``ValueError``).
      - ``lr_layer_wise`` (str or list of floats): the original code's flag, e.g. ``'1.5e-5,1.5e-5,1.5e-4'``: the
        L blocks split into n equal consecutive groups (L must be divisible by n), m_k = v_k / v_n, so the top
        group trains at the optimiser's lr.
      - ``layer_decay`` (float d): m(p) = d ** (L + 1 - id(p)) in the backbone, 1 outside it.
    - ``embed_lr_mult`` (float, ``None``): m of the embeddings; ``None`` follows block 0 (d ** (L + 1) with
      ``layer_decay``).
    - ``norm_lr_mult`` (float, 1.0): m of the final norm (and other backbone parameters outside blocks and
      embeddings).
    - ``head_lr_mult`` (float, 1.0): m of everything outside the backbone.
    - ``no_decay_1d`` (bool, True): w = 0 for 1-D (and 0-D) parameters: biases, norms.
    - ``no_decay_names`` (tuple, ``('pos_embed', 'cls_token', 'mask_token')``): w = 0 for parameters whose last
      name component is listed (mmseg's constructor compares unprefixed names and misses them).
    - ``decay_mult`` (float, 1.0): w of all other parameters.
    - ``custom_keys`` (dict, ``{}``): ``{substring: dict(lr_mult=..., decay_mult=...)}`` multiplied on top of the
      above for parameters whose full name contains the substring (the longest matching key wins, ties in
      alphabetical order, as in mmengine). A key that matches no parameter raises ``ValueError``.

    The lr ratios between groups survive mmengine's schedulers: ``LinearLR`` warm-up, then ``CosineAnnealingLR`` or
    ``PolyLR`` with ``eta_min=0`` (an absolute ``eta_min`` bends them; use ``eta_min_ratio``).

    Examples (ViT-B, L = 12; the paper's recipes)::

        # LGP step 2: MoCo v3 from MAE weights, blocks 0-7 and cls_token at 0.1x, the rest at 1x
        # (the original's --lr_layer_wise 1.5e-5,1.5e-5,1.5e-4; 2.4e-3 = 1.5e-4 x 4096 / 256).
        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=2.4e-3, betas=(0.9, 0.999), weight_decay=0.1),
            constructor='GraftedOptimWrapperConstructor',
            paramwise_cfg=dict(lr_layer_wise='1.5e-5,1.5e-5,1.5e-4'))
        # the same, explicitly; ViT-L (L = 24) splits 16 low / 8 high: (0, 16), (16, 24)
        paramwise_cfg = dict(block_groups=[dict(blocks=(0, 8), lr_mult=0.1), dict(blocks=(8, 12), lr_mult=1.0)])
        # full fine-tune: AdamW lr 5e-4 x 1024 / 256, wd 0.05; cosine "to 1e-6" as eta_min_ratio=1e-6 / 2e-3
        paramwise_cfg = dict(layer_decay=0.6)
        # 10% few-shot fine-tune: AdamW lr 3e-5 x batch / 256
        paramwise_cfg = dict(layer_decay=0.75)
        # ADE20K UperNet: AdamW lr 1e-4, wd 0.05, LinearLR 1500 iterations then PolyLR(power=1.0, eta_min=0)
        paramwise_cfg = dict(layer_decay=0.65)

    Args:
        optim_wrapper_cfg: the ``optim_wrapper`` config (``type``, ``optimizer`` and the wrapper's arguments).
        paramwise_cfg: the keys above.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        self.options = {**DEFAULTS, **self.paramwise_cfg}

    def _validate_cfg(self) -> None:
        """Check ``paramwise_cfg`` before any model is seen (the block ranges are checked against L at build)."""
        cfg = self.paramwise_cfg
        if not isinstance(cfg, dict):
            raise TypeError(f'paramwise_cfg must be None or a dict, got {type(cfg).__name__}.')
        unknown = sorted(set(cfg) - set(DEFAULTS))
        if unknown:
            raise ValueError(
                f'Unknown paramwise_cfg keys {unknown} for GraftedOptimWrapperConstructor; it accepts '
                f'{list(DEFAULTS)} (see its docstring).'
            )
        schemes = [key for key in SCHEMES if cfg.get(key) is not None]
        if len(schemes) > 1:
            raise ValueError(f'paramwise_cfg sets {schemes}: give at most one of {list(SCHEMES)}.')
        if cfg.get('lr_layer_wise') is not None:
            parse_lr_layer_wise(cfg['lr_layer_wise'])
        if cfg.get('layer_decay') is not None and _check_mult('layer_decay', cfg['layer_decay']) == 0:
            raise ValueError('layer_decay must be > 0.')
        for key in MULT_KEYS:
            if cfg.get(key) is not None:
                _check_mult(key, cfg[key])
        if cfg.get('backbone', 'backbone') is None and (schemes or cfg.get('embed_lr_mult') is not None):
            raise ValueError(
                f'paramwise_cfg backbone=None cannot be combined with {schemes or ["embed_lr_mult"]}: '
                "they need the backbone's block map."
            )
        names = cfg.get('no_decay_names', ())
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"no_decay_names must be a tuple of leaf names such as ('pos_embed',), got {names!r}.")
        self._validate_custom_keys(cfg.get('custom_keys', {}))

    @staticmethod
    def _validate_custom_keys(custom_keys: Any) -> None:
        if not isinstance(custom_keys, dict):
            raise TypeError(f'custom_keys must be a dict, got {type(custom_keys).__name__}.')
        for key, spec in custom_keys.items():
            if not isinstance(spec, dict) or set(spec) - set(CUSTOM_KEY_FIELDS):
                raise ValueError(
                    f'custom_keys[{key!r}] must be a dict with keys among {list(CUSTOM_KEY_FIELDS)}, got {spec!r}.'
                )
            for name, value in spec.items():
                _check_mult(f'custom_keys[{key!r}][{name!r}]', value)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optimiser on :meth:`build_param_groups` and wrap it."""
        if is_model_wrapper(model):
            model = model.module
        optimizer_cls, _, _ = _optimizer_defaults(self.optimizer_cfg)
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg[next(iter(inspect.signature(optimizer_cls).parameters))] = self.build_param_groups(model)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))

    def add_params(self, params: list[dict], module: nn.Module, prefix: str = '', **kwargs: Any) -> None:
        """mmengine's hook, kept for callers of the parent API: append the param groups of the whole model."""
        if prefix:
            raise ValueError('GraftedOptimWrapperConstructor groups a whole model: call add_params without prefix.')
        params.extend(self.build_param_groups(module))

    def build_param_groups(self, model: nn.Module) -> list[dict]:
        """The optimiser's param groups for ``model`` (logged as a table)."""
        _, base_lr, base_wd = _optimizer_defaults(self.optimizer_cfg)
        trainable, frozen, num_layers = self._collect(model)
        groups: dict[tuple[float, float], _Group] = {}
        for p in trainable:
            groups.setdefault((p.lr_mult, p.decay_mult), _Group(p.lr_mult, p.decay_mult)).members.append(p)
        # m = 1 first: mmengine logs param group 0's lr, which is then the schedule of the optimiser's own lr
        ordered = sorted(groups.values(), key=lambda g: g.lr_mult != 1.0)
        self._log(ordered, frozen, base_lr, base_wd, num_layers)
        return [g.param_group(base_lr, base_wd) for g in ordered]

    def _backbone(self, model: nn.Module) -> nn.Module | None:
        path = self.options['backbone']
        if path is None:
            return None
        module = model
        for part in path.split('.'):
            if not hasattr(module, part):
                children = [n for n, _ in module.named_children()]
                raise ValueError(
                    f'paramwise_cfg backbone={path!r}: {type(module).__name__} has no attribute {part!r} '
                    f'(its children: {children}). Set backbone to the attribute path of the backbone, '
                    'or None for a model without one.'
                )
            module = getattr(module, part)
        return module

    def _collect(self, model: nn.Module) -> tuple[list[_Param], list[_Param], int]:
        """Classify every parameter; give the trainable ones their multipliers m(p) and w(p)."""
        backbone = self._backbone(model)
        layer_id, num_layers = _layer_map(backbone) if backbone is not None else (None, 0)
        backbone_names = {id(p): n for n, p in backbone.named_parameters()} if backbone is not None else {}
        block_mults = self._block_multipliers(num_layers) if backbone is not None else []
        trainable, frozen = [], []
        for name, param in model.named_parameters():
            entry = _Param(name, param, *self._place(backbone_names.get(id(param)), layer_id, num_layers))
            if not param.requires_grad:
                frozen.append(entry)
                continue
            entry.lr_mult = self._lr_mult(entry, block_mults, num_layers)
            entry.decay_mult = self._decay_mult(name, param)
            trainable.append(entry)
        self._apply_custom_keys(trainable, frozen)
        return trainable, frozen, num_layers

    @staticmethod
    def _place(name: str | None, layer_id: Callable[[str], int] | None, num_layers: int) -> tuple[str, int | None, int]:
        """(kind, block index, id(p)) of a parameter; ``name`` is its name in the backbone, None outside it."""
        if name is None:
            return OUTSIDE, None, num_layers + 1
        lid = layer_id(name)
        if lid < 0:
            raise ValueError(f'The backbone maps {name!r} to layer id {lid}; ids must be >= 0.')
        if lid == 0 or name.rsplit('.', 1)[-1] in EMBED_LEAF_NAMES:
            return EMBED, None, 0
        if lid <= num_layers:
            return BLOCK, lid - 1, lid
        return TOP, None, num_layers + 1

    def _block_multipliers(self, num_layers: int) -> list[float]:
        """m_i of blocks 0..L-1 under the configured scheme."""
        o = self.options
        if o['layer_decay'] is not None:
            return [o['layer_decay'] ** (num_layers - i) for i in range(num_layers)]
        if o['lr_layer_wise'] is not None:
            groups = layer_wise_block_groups(parse_lr_layer_wise(o['lr_layer_wise']), num_layers)
            return block_group_multipliers(groups, num_layers)
        if o['block_groups'] is not None:
            return block_group_multipliers(o['block_groups'], num_layers)
        return [1.0] * num_layers

    def _lr_mult(self, p: _Param, block_mults: list[float], num_layers: int) -> float:
        o = self.options
        if p.kind == OUTSIDE:
            return float(o['head_lr_mult'])
        if p.kind == TOP:
            return float(o['norm_lr_mult'])
        if p.kind == BLOCK:
            return block_mults[p.block]
        if o['embed_lr_mult'] is not None:
            return float(o['embed_lr_mult'])
        if o['layer_decay'] is not None:
            return o['layer_decay'] ** (num_layers + 1)
        return block_mults[0] if block_mults else 1.0

    def _decay_mult(self, name: str, param: nn.Parameter) -> float:
        """w(p): 0 for 1-D parameters and listed leaf names, else ``decay_mult``."""
        if self.options['no_decay_1d'] and param.ndim <= 1:
            return 0.0
        if name.rsplit('.', 1)[-1] in tuple(self.options['no_decay_names']):
            return 0.0
        return float(self.options['decay_mult'])

    def _apply_custom_keys(self, trainable: list[_Param], frozen: list[_Param]) -> None:
        """Multiply m and w by the longest matching custom key; a key that matches no parameter is an error."""
        custom_keys = self.options['custom_keys']
        names = [p.name for p in trainable + frozen]
        unmatched = [key for key in custom_keys if not any(key in n for n in names)]
        if unmatched:
            raise ValueError(
                f'custom_keys {unmatched} match no parameter of the model (keys are substrings of full '
                f'parameter names such as {names[0]!r}); fix or remove them.'
            )
        only_frozen = [key for key in custom_keys if not any(key in p.name for p in trainable)]
        if only_frozen:
            MMLogger.get_current_instance().warning(f'custom_keys {only_frozen} match only frozen parameters.')
        keys = sorted(sorted(custom_keys), key=len, reverse=True)
        for p in trainable:
            key = next((k for k in keys if k in p.name), None)
            if key is not None:
                p.lr_mult *= float(custom_keys[key].get('lr_mult', 1.0))
                p.decay_mult *= float(custom_keys[key].get('decay_mult', 1.0))

    def _log(self, groups: list[_Group], frozen: list[_Param], base_lr: float, base_wd: float, num_layers: int) -> None:
        """Log the groups as a table, the frozen tensors, and a warning for lr_mult = 0."""
        rows = [
            (
                k,
                g.description,
                len(g.members),
                f'{sum(m.param.numel() for m in g.members):,}',
                f'{base_lr * g.lr_mult:.4g}',
                f'{g.lr_mult:.4g}',
                f'{base_wd * g.decay_mult:.4g}',
            )
            for k, g in enumerate(groups)
        ]
        table = _format_table(rows, ('#', 'group', 'tensors', 'params', 'lr', 'lr mult', 'weight decay'))
        scheme = next((key for key in SCHEMES if self.options[key] is not None), 'no block scheme')
        frozen_params = sum(m.param.numel() for m in frozen)
        frozen_line = (
            f'frozen (requires_grad=False, not optimised): {len(frozen)} tensors, {frozen_params:,} params'
            + (f' ({_frozen_summary(frozen)})' if frozen else '')
        )
        logger = MMLogger.get_current_instance()
        logger.info(
            f'GraftedOptimWrapperConstructor: {len(groups)} param groups, base lr {base_lr:.4g}, weight '
            f'decay {base_wd:.4g}, {num_layers} backbone blocks, {scheme}\n{table}\n{frozen_line}'
        )
        zero = [g.description for g in groups if g.lr_mult == 0]
        if zero:
            logger.warning(
                f'lr_mult = 0 for {zero}: these stay in the optimiser, which is not freezing them; '
                'freeze with requires_grad=False (e.g. frozen_stages) instead.'
            )


def _register(registry: Any) -> None:
    """Register the constructor unless the registry already has that name (e.g. the module was reloaded)."""
    if GraftedOptimWrapperConstructor.__name__ not in registry.module_dict:
        registry.register_module(module=GraftedOptimWrapperConstructor, force=False)


for _registry in (OPTIM_WRAPPER_CONSTRUCTORS, MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS, MMSEG_OPTIM_WRAPPER_CONSTRUCTORS):
    _register(_registry)

__all__ = [
    'GraftedOptimWrapperConstructor',
    'block_group_multipliers',
    'layer_wise_block_groups',
    'parse_lr_layer_wise',
]
