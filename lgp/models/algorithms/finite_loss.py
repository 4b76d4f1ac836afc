"""Stop on a NaN or infinite loss before it reaches the weights."""

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub


class NonFiniteLossError(FloatingPointError):
    """A loss term that is NaN or infinite; raised before the optimiser step, so the weights are still good."""


class FiniteLossMixin:
    """``parse_losses`` that refuses a non-finite loss, on every process at once.

    mmengine's ``train_step`` parses the losses and then steps the optimiser; checking here stops the run before a
    NaN reaches the weights, and the exception also stops the checkpoint hook, so the last checkpoint on disk is the
    last good one. The check is all-reduced so that every process raises together instead of the others waiting
    forever in the next collective.
    """

    def parse_losses(self, losses: dict) -> tuple[torch.Tensor, dict]:
        loss, log_vars = super().parse_losses(losses)
        finite = torch.isfinite(loss.detach()).all().float()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if finite.item() < 1:
            bad = {k: float(v) for k, v in log_vars.items() if not torch.isfinite(torch.as_tensor(v)).all()}
            iteration = MessageHub.get_current_instance().get_info('iter')
            where = f'iteration {iteration + 1}' if iteration is not None else 'this iteration'
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {bad or "on another process"}. Training stopped before the optimiser '
                'step; the last saved checkpoint is the last good one. Common causes: a learning rate too high for the '
                'batch size (check auto_scale_lr), fp16 overflow (prefer bf16), or corrupt input data.'
            )
        return loss, log_vars
