"""Log the MIM / CL gradient conflict per block while an MTL model trains."""

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...analysis import block_gradient_cosines


@HOOKS.register_module()
class GradientConflictHook(Hook):
    """Every ``interval`` iterations, measure C_MIM,CL per block on the iteration's batch and log it.

    Logged as ``conflict/block_{i}`` scalars (and ``conflict/mean``) through the message hub, so they appear in the
    text log and any visualiser backend. Costs two extra backward passes at each measured iteration; the model's
    parameters and gradients are left as they were. Works with :class:`lgp.models.algorithms.MTLMAEMoCoV3`.

    Args:
        interval: measure every this many training iterations.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL), so the values are logged in the same iteration

    def __init__(self, interval: int = 100) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}.')
        self.interval = interval

    def after_train_iter(
        self, runner, batch_idx: int, data_batch: dict | None = None, outputs: dict | None = None
    ) -> None:
        if data_batch is None or not self.every_n_train_iters(runner, self.interval):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        inputs = model.data_preprocessor(data_batch, True)['inputs']
        cosines = block_gradient_cosines(model, inputs)
        for block, cosine in enumerate(cosines.tolist()):
            runner.message_hub.update_scalar(f'train/conflict/block_{block}', cosine)
        runner.message_hub.update_scalar('train/conflict/mean', cosines.mean().item())
