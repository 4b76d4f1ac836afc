"""Layer Grafted Pre-training (Jiang et al., ICLR 2023), step 2: the whole graft in one place.

Step 1 trains an encoder with masked image modelling (MAE). Step 2 continues it with contrastive learning (MoCo v3):

* **from step 1**: the backbone, and through it the momentum encoder (whose first update copies the online
  weights), start from the step-1 encoder: embeddings, every block and the final norm. The projector and predictor
  are new. ``step1`` may instead assemble the encoder from several checkpoints by block range, e.g. the lower blocks
  from an MIM checkpoint and the upper ones from a CL checkpoint (the original release's ``--graft_CL_end``):
  :func:`graft_encoder` loads it strictly and reports where each part came from.
* **frozen**: the patch embedding stays at its step-1 weights (MoCo v3's stop-gradient, ``stop_grad_patch_embed``
  of the backbone) and the position embedding is the fixed 2-D sin-cos one. With ``lower_lr_mult=0`` the lower part
  (embeddings and blocks [0, lower_blocks)) is frozen too (``requires_grad=False``, eval mode): the "MIM -> CL
  grafting, lower layers fixed" baseline of the paper's Table 1.
* **which blocks move at which lr**: cls_token and blocks [0, lower_blocks) at ``lower_lr_mult`` x the lr (ViT-B: 0.1x
  for blocks 0-7, the original's ``--lr_layer_wise 1.5e-5,1.5e-5,1.5e-4``), the upper blocks, the final norm, the
  projector and the predictor at 1x. The model declares this as :attr:`GraftedMoCoV3.block_lr_groups`, which
  :class:`lgp.engine.GraftedOptimWrapperConstructor` turns into param groups; the ratio holds through warm-up and
  cosine decay.
* **the L1 pull** (the ViT-L recipe): L = L_CL + anchor_weight * sum |theta - theta_1| over the trainable embeddings
  and blocks [0, anchor_blocks), an unnormalised sum, theta_1 the step-1 weights (ViT-L: 1e-5 over blocks 0-11).
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..checkpoint import check_state_dict, read_backbone
from .mocov3 import LGPMoCoV3

EMBEDDINGS, FINAL_NORM = 'embeddings', 'final norm'
PART_KEYS = ('checkpoint', 'blocks', 'embeddings', 'final_norm', 'source', 'encoder')


def _part_of(backbone: nn.Module, name: str) -> str:
    """Which part of the encoder a backbone tensor belongs to: ``'embeddings'``, ``'block i'`` or ``'final norm'``."""
    layer_id = backbone.layer_id(name)
    if layer_id == 0:
        return EMBEDDINGS
    return f'block {layer_id - 1}' if layer_id <= backbone.num_layers else FINAL_NORM


def _check_part(k: int, part: dict, num_blocks: int) -> tuple[set[str], dict]:
    """The encoder parts that ``step1[k]`` provides, and its reading options."""
    if not isinstance(part, dict) or 'checkpoint' not in part or set(part) - set(PART_KEYS):
        raise ValueError(
            f'step1[{k}] must be dict(checkpoint=PATH, blocks=(start, end), embeddings=bool, final_norm=bool) '
            f'(optionally source=, encoder=), got {part!r}.'
        )
    start, end = part.get('blocks', (0, num_blocks))
    if not 0 <= start <= end <= num_blocks:
        raise ValueError(f'step1[{k}] blocks=({start}, {end}) is not a range within the {num_blocks} blocks.')
    parts = {f'block {i}' for i in range(start, end)}
    parts |= {EMBEDDINGS} if part.get('embeddings', True) else set()
    parts |= {FINAL_NORM} if part.get('final_norm', True) else set()
    return parts, dict(source=part.get('source', 'auto'), encoder=part.get('encoder', 'online'))


def graft_encoder(backbone: nn.Module, step1: dict | Sequence[dict]) -> dict[str, str]:
    """Load the step-1 encoder into ``backbone`` strictly, from one checkpoint or assembled from several.

    Args:
        backbone: an :class:`lgp.models.LGPViT` (anything with ``layer_id(name)`` and ``num_layers``).
        step1: ``dict(checkpoint=PATH)`` for the whole encoder, or a list of parts
            ``dict(checkpoint=PATH, blocks=(start, end), embeddings=bool, final_norm=bool)`` that together give the
            embeddings, every block and the final norm exactly once; ``blocks`` defaults to all of them and
            ``embeddings`` / ``final_norm`` to True. ``source`` / ``encoder`` choose the layout and encoder of a
            checkpoint (:func:`lgp.models.checkpoint.read_backbone`).

    Returns:
        ``{part: checkpoint}`` for the embeddings, each block and the final norm (also logged).

    Raises:
        ValueError: parts that overlap or leave something out. :class:`lgp.models.checkpoint.CheckpointMismatchError`:
            a checkpoint that lacks a part or does not fit; nothing is loaded then.
    """
    parts = [step1] if isinstance(step1, dict) else list(step1)
    num_blocks = backbone.num_layers
    order = [EMBEDDINGS, *(f'block {i}' for i in range(num_blocks)), FINAL_NORM]
    origin: dict[str, str] = {}
    state_dict: dict[str, torch.Tensor] = {}
    for k, part in enumerate(parts):
        provides, options = _check_part(k, part, num_blocks)
        overlap = sorted(provides & set(origin))
        if overlap:
            raise ValueError(f'step1[{k}] gives {overlap}, which step1 already takes from another checkpoint.')
        weights, layout, _ = read_backbone(part['checkpoint'], **options)
        taken = {key: value for key, value in weights.items() if _part_of(backbone, key) in provides}
        state_dict.update(taken)
        origin.update(dict.fromkeys(provides, f'{part["checkpoint"]} ({layout}, {options["encoder"]} encoder)'))
    missing = [p for p in order if p not in origin]
    if missing:
        raise ValueError(f'step1 gives no checkpoint for {missing}: every part of the encoder needs exactly one.')
    where = ' + '.join(str(p['checkpoint']) for p in parts)
    check_state_dict(backbone, state_dict, source=f'the step-1 encoder from {where}')
    backbone.load_state_dict(state_dict, strict=True)
    report = '\n'.join(f'  {part}: {origin[part]}' for part in order)
    MMLogger.get_current_instance().info(f'Step-1 encoder grafted:\n{report}')
    return {part: origin[part] for part in order}


@MODELS.register_module()
class GraftedMoCoV3(LGPMoCoV3):
    """Layer Grafted Pre-training, step 2: MoCo v3 continued from the step-1 (MIM) encoder (see the module docstring).

    Args:
        backbone: the encoder (an :class:`lgp.models.LGPViT` config, without a pretrained ``init_cfg``).
        step1: the step-1 encoder, ``dict(checkpoint=PATH)`` (any layout lgp reads: lgp / mmpretrain, the official
            MAE release, MoCo v3 and the original Layer Grafted release), or a list of parts by block range
            (:func:`graft_encoder`). Loaded by :meth:`init_weights`.
        lower_blocks: blocks [0, lower_blocks) form the grafted lower part (ViT-B: 8 of 12, ViT-L: 16 of 24).
        lower_lr_mult: lr multiplier of the lower part and cls_token (0.1); 0 freezes them instead.
        anchor_weight: weight of the L1 pull toward the step-1 weights (ViT-L: 1e-5); 0 disables it.
        anchor_blocks: the pull covers the trainable embeddings and blocks [0, anchor_blocks) (ViT-L: 12).
        **kwargs: those of :class:`LGPMoCoV3` (``backbone``, ``neck``, ``head``, ``base_momentum``, ...).
    """

    def __init__(
        self,
        backbone: dict,
        step1: dict | Sequence[dict],
        lower_blocks: int,
        lower_lr_mult: float = 0.1,
        anchor_weight: float = 0.0,
        anchor_blocks: int = 0,
        **kwargs,
    ) -> None:
        if lower_lr_mult < 0 or anchor_weight < 0:
            raise ValueError(f'lower_lr_mult and anchor_weight must be >= 0, got {lower_lr_mult}, {anchor_weight}.')
        init_cfg = backbone.get('init_cfg')
        if init_cfg:
            raise ValueError(
                f'GraftedMoCoV3 loads the step-1 encoder itself (step1=...); remove the backbone init_cfg {init_cfg}.'
            )
        if lower_lr_mult == 0:
            frozen = backbone.get('frozen_stages', 0)
            if frozen not in (0, lower_blocks):
                raise ValueError(f'lower_lr_mult=0 freezes {lower_blocks} blocks, but the backbone sets {frozen=}.')
            backbone = dict(backbone, frozen_stages=lower_blocks)
        super().__init__(backbone=backbone, **kwargs)
        num_blocks = self.backbone.num_layers
        if not 0 <= lower_blocks <= num_blocks or not 0 <= anchor_blocks <= num_blocks:
            raise ValueError(
                f'lower_blocks={lower_blocks} and anchor_blocks={anchor_blocks} must be within the {num_blocks} blocks.'
            )
        self.step1 = step1
        self.lower_blocks, self.lower_lr_mult = lower_blocks, lower_lr_mult
        self.anchor_weight, self.anchor_blocks = anchor_weight, anchor_blocks
        self.anchor = nn.Module()  # theta_1 of the anchored parameters, as buffers (saved, so resume is exact)
        if anchor_weight > 0:
            for name, param in self.anchored_parameters().items():
                self.anchor.register_buffer(name.replace('.', '__'), torch.zeros_like(param))

    @property
    def block_lr_groups(self) -> list[dict] | None:
        """``[dict(blocks=(0, lower_blocks), lr_mult=lower_lr_mult), dict(blocks=(lower_blocks, L), lr_mult=1)]``.

        None when the lower part is frozen (nothing left to scale). The embeddings follow block 0.
        """
        num_blocks = self.backbone.num_layers
        if self.lower_lr_mult == 0:
            return None
        lower = [dict(blocks=(0, self.lower_blocks), lr_mult=self.lower_lr_mult)] if self.lower_blocks else []
        upper = [dict(blocks=(self.lower_blocks, num_blocks), lr_mult=1.0)] if self.lower_blocks < num_blocks else []
        return lower + upper

    def anchored_parameters(self) -> dict[str, nn.Parameter]:
        """Trainable backbone parameters under the L1 pull (layer ids 0..anchor_blocks), by name."""
        return {
            name: p
            for name, p in self.backbone.named_parameters()
            if p.requires_grad and self.backbone.layer_id(name) <= self.anchor_blocks
        }

    def init_weights(self) -> None:
        """Initialise, graft the step-1 encoder into the backbone, then record theta_1 of the anchored parameters."""
        super().init_weights()
        graft_encoder(self.backbone, self.step1)
        if self.anchor_weight > 0:
            anchors = dict(self.anchor.named_buffers())
            for name, param in self.anchored_parameters().items():
                anchors[name.replace('.', '__')].copy_(param.detach())

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample], **kwargs) -> dict[str, torch.Tensor]:
        """Two views -> ``dict(loss=L_CL)``, plus ``loss_anchor`` when the L1 pull is on."""
        losses = super().loss(inputs, data_samples)
        if self.anchor_weight > 0:
            losses['loss_anchor'] = self.anchor_weight * self.anchor_distance()
        return losses

    def anchor_distance(self) -> torch.Tensor:
        """sum |theta - theta_1| over the anchored parameters."""
        anchors = dict(self.anchor.named_buffers())
        return sum((p - anchors[name.replace('.', '__')]).abs().sum() for name, p in self.anchored_parameters().items())


__all__ = ['GraftedMoCoV3', 'graft_encoder']
