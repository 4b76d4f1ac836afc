"""``GraftedOptimWrapperConstructor``: per-parameter lr and weight decay for Layer Grafted Pre-training (LGP), its
fine-tuning and its segmentation transfer, on mmengine's optimiser wrappers.

The rules (block schemes, weight-decay rules, validation) are pure functions in :mod:`.lr_schemes`; this module maps a
model's parameters onto them, builds the optimiser and logs the groups.
"""

import inspect
from collections.abc import Callable
from typing import Any

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

from .lr_schemes import (
    SCHEMES,
    ParamSite,
    assign_multipliers,
    check_options,
    format_table,
    frozen_summary,
    group_sites,
    locate,
)


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


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GraftedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Param groups with block-wise lr multipliers and a named weight-decay rule.

    Every trainable parameter p gets ``lr = m(p) * eta`` and ``weight_decay = w(p) * lambda``; parameters sharing
    (m, w) form one param group, which also carries ``lr_mult``, ``decay_mult``, ``layer_id`` (sorted ids of its
    members), ``param_names`` and ``group_name``. A table of the groups is logged at build time. Parameters with
    ``requires_grad=False`` (a fixed sin-cos ``pos_embed``, a stop-gradient ``patch_embed``, frozen blocks, MoCo v3's
    momentum encoder) are left out of the optimiser and counted in the log. ``lr_mult=0`` is not freezing: freeze
    with ``requires_grad=False``.

    The backbone (``paramwise_cfg.backbone``, ``model.backbone`` by default) maps its parameters to blocks with its
    ``layer_id(name)`` (or mmpretrain's ``get_layer_depth(name)``); everything outside it (projector, predictor, MAE
    decoder, decode heads) is "outside backbone". The block multipliers come from one of:

    - the model itself: a model with a ``block_lr_groups`` attribute (``[dict(blocks=(start, end), lr_mult=m)]``,
      e.g. :class:`lgp.models.GraftedMoCoV3`, whose graft says which blocks move at which lr);
    - ``paramwise_cfg``: ``block_groups`` (the same list), ``lr_layer_wise`` (the original release's flag, e.g.
      ``'1.5e-5,1.5e-5,1.5e-4'``: L blocks in n equal groups, m_k = v_k / v_n) or ``layer_decay`` (d:
      m(p) = d ** (L + 1 - id(p)) in the backbone, 1 outside);
    - neither: every m is 1.

    Other ``paramwise_cfg`` keys: ``embed_lr_mult`` (``None``: the embeddings follow block 0, or d ** (L + 1)),
    ``norm_lr_mult`` (final norm), ``head_lr_mult`` (outside the backbone), ``weight_decay_rule``
    (:data:`lr_schemes.WEIGHT_DECAY_RULES`: ``'all'`` (default), ``'skip_1d'``, ``'skip_1d_and_tokens'``),
    ``decay_mult``, and ``custom_keys`` (``{substring: dict(lr_mult=..., decay_mult=...)}`` multiplied on top for
    parameters whose full name contains the substring; the longest key wins; a key matching nothing is an error).
    Unknown keys raise ``ValueError``.

    The ratios between groups survive mmengine's schedulers: ``LinearLR`` warm-up, then ``CosineAnnealingLR`` or
    ``PolyLR`` with ``eta_min=0`` (an absolute ``eta_min`` bends them; use ``eta_min_ratio``).

    Example, full fine-tuning of ViT-B with MAE's recipe::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='GraftedOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay=0.6, weight_decay_rule='skip_1d_and_tokens'))

    Args:
        optim_wrapper_cfg: the ``optim_wrapper`` config (``type``, ``optimizer`` and the wrapper's arguments).
        paramwise_cfg: the keys above.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        self.options = check_options(self.paramwise_cfg)

    def _validate_cfg(self) -> None:
        """mmengine's hook, called by its ``__init__``: check ``paramwise_cfg`` before any model is seen."""
        check_options(self.paramwise_cfg)

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
        sites, num_layers = self._sites(model)
        model_groups = getattr(model, 'block_lr_groups', None)
        configured = [key for key in SCHEMES if self.options[key] is not None]
        if model_groups is not None and configured:
            raise ValueError(
                f'{type(model).__name__} sets its own block learning rates (block_lr_groups={model_groups}); '
                f"remove paramwise_cfg {configured}, or change the model's settings instead."
            )
        only_frozen = assign_multipliers(sites, self.options, num_layers, model_groups)
        groups = group_sites(sites)
        scheme = f'block_lr_groups of {type(model).__name__}' if model_groups is not None else None
        self._log(groups, sites, base_lr, base_wd, num_layers, scheme or (configured or ['no block scheme'])[0])
        if only_frozen:
            MMLogger.get_current_instance().warning(f'custom_keys {only_frozen} match only frozen parameters.')
        params = dict(model.named_parameters())
        return [
            dict(
                params=[params[m.name] for m in g.members],
                lr=base_lr * g.lr_mult,
                weight_decay=base_wd * g.decay_mult,
                lr_mult=g.lr_mult,
                decay_mult=g.decay_mult,
                layer_id=sorted({m.layer_id for m in g.members}),
                param_names=[m.name for m in g.members],
                group_name=g.description,
            )
            for g in groups
        ]

    def _sites(self, model: nn.Module) -> tuple[list[ParamSite], int]:
        """Every parameter of the model as a :class:`ParamSite`, and the backbone's depth L (0 without one)."""
        backbone = self._backbone(model)
        layer_id, num_layers = _layer_map(backbone) if backbone is not None else (None, 0)
        backbone_names = {id(p): n for n, p in backbone.named_parameters()} if backbone is not None else {}
        sites = [
            ParamSite(
                name, p.ndim, p.numel(), p.requires_grad, *locate(name, backbone_names.get(id(p)), layer_id, num_layers)
            )
            for name, p in model.named_parameters()
        ]
        return sites, num_layers

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

    def _log(
        self,
        groups: list,
        sites: list[ParamSite],
        base_lr: float,
        base_wd: float,
        num_layers: int,
        scheme: str,
    ) -> None:
        """Log the groups as a table, the frozen tensors, and a warning for lr_mult = 0."""
        frozen = [s for s in sites if not s.trainable]
        summary = frozen_summary(sites)
        frozen_line = (
            f'frozen (requires_grad=False, not optimised): {len(frozen)} tensors, '
            f'{sum(s.numel for s in frozen):,} params' + (f' ({summary})' if summary else '')
        )
        logger = MMLogger.get_current_instance()
        logger.info(
            f'GraftedOptimWrapperConstructor: {len(groups)} param groups, base lr {base_lr:.4g}, weight decay '
            f'{base_wd:.4g} ({self.options["weight_decay_rule"]!r} rule), {num_layers} backbone blocks, {scheme}\n'
            f'{format_table(groups, base_lr, base_wd)}\n{frozen_line}'
        )
        zero = [g.description for g in groups if g.lr_mult == 0]
        if zero:
            logger.warning(
                f'lr_mult = 0 for {zero}: these stay in the optimiser, which is not freezing them; '
                'freeze with requires_grad=False instead.'
            )


__all__ = ['GraftedOptimWrapperConstructor']
